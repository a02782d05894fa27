-- Campus-event landing rows that are neither staged nor quarantined, or both: received <>
-- accepted + rejected over every month at once.
-- `data_quality` is sql/marts/data_quality.sql, computed afresh (the mart is built later).
select source, wave, rows_received, rows_accepted, rows_rejected
from data_quality
where source = $source and rows_received <> rows_accepted + rows_rejected
