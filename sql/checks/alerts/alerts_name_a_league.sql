-- Alerts about anything but a league of ref.divisions, or missing a message.
select *
from marts.alerts
where area_code not in (select divisions.code from ref.divisions as divisions where divisions.level = 'league')
    or coalesce(message, '') = ''
    or coalesce(message_en, '') = ''
