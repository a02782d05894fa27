-- Macros of the in-memory connection that reads one landing CSV (pipelines/landing/stream.py);
-- never run against the warehouse.
-- utf8_csv: the UTF-8 file with every field text, '' kept apart from a missing value (null_mark
-- never occurs in the file); strict, so a ragged row or a stray quote is an error, not a guess.
create or replace temp macro utf8_csv(path, skip_lines, delimiter, null_mark, names) as table
select *
from read_csv(
    path,
    header = false,
    skip = skip_lines,
    auto_detect = false,
    delim = delimiter,
    quote = '"',
    escape = '"',
    strict_mode = true,
    null_padding = false,
    allow_quoted_nulls = false,
    nullstr = null_mark,
    columns = names
);

-- pseudonym: HMAC-SHA256 (RFC 2104) of the stripped identifier, hex, as hmac.new(key, id,
-- sha256) gives; inner_pad and outer_pad are the key xor 0x36 and 0x5c. Blank is null.
create or replace temp macro pseudonym(raw, strip_pattern, inner_pad, outer_pad) as
case
    when coalesce(regexp_replace(raw, strip_pattern, '', 'g'), '') = '' then null
    else sha256(outer_pad || unhex(sha256(inner_pad || encode(regexp_replace(raw, strip_pattern, '', 'g')))))
end;

-- visible_start: the field starts with a visible ASCII character, so its row is not blank; a
-- file where every row's first field does needs no look at the other fields.
create or replace temp macro visible_start(field) as field >= '!' and field < chr(127);

-- blank_row: every field of the row whitespace-only (joined: the fields concatenated); the
-- pattern runs only on rows whose first field does not settle it.
create or replace temp macro blank_row(first_field, joined, blank_pattern) as
case
    when visible_start(first_field) then false
    else regexp_full_match(joined, blank_pattern)
end;
