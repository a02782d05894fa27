-- The staged wave's landing rows that are neither staged nor quarantined, or both: received <>
-- accepted + rejected. Only $wave is judged: another wave may wait for its own restaging.
-- `data_quality` is sql/marts/data_quality.sql, computed afresh (the mart is built later).
select source, wave, rows_received, rows_accepted, rows_rejected
from data_quality
where source = $source and wave = $wave and rows_received <> rows_accepted + rows_rejected
