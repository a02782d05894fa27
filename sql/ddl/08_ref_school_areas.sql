-- ref.county_areas: every county of ref.divisions rolled up county → league → region, with the
-- divisions' codes and names (zh, en). The one place a county's league is derived: staging,
-- marts, reports and ref.school_areas read this view instead of joining ref.divisions themselves.
-- ref.school_areas: every school of ref.schools with its county's row of ref.county_areas.
-- county_listed says the school's county_code is a county of ref.divisions (inner-join semantics).
-- ref.schools and ref.divisions exist empty until the reference files are loaded (load_reference
-- replaces them), so that the views can be created on any warehouse; they read them afresh each time.
create table if not exists ref.divisions (
    code varchar,
    name_zh varchar,
    name_en varchar,
    level varchar,
    parent_code varchar
);

create table if not exists ref.schools (
    school_code varchar,
    school_name varchar,
    county_code varchar,
    school_type varchar,
    urban_rural varchar,
    n_teachers bigint
);

create or replace view ref.county_areas as
select
    counties.code as county_code,
    counties.name_zh as county_name_zh,
    counties.name_en as county_name_en,
    counties.parent_code as league_code,
    leagues.name_zh as league_name_zh,
    leagues.name_en as league_name_en,
    region.code as region_code,
    region.name_zh as region_name_zh,
    region.name_en as region_name_en
from ref.divisions as counties
left join ref.divisions as leagues on leagues.code = counties.parent_code
left join ref.divisions as region on region.level = 'region'
where counties.level = 'county';

create or replace view ref.school_areas as
select
    schools.school_code,
    schools.county_code,
    counties.county_code is not null as county_listed,
    counties.county_name_zh,
    counties.county_name_en,
    counties.league_code,
    counties.league_name_zh,
    counties.league_name_en,
    region.code as region_code,
    region.name_zh as region_name_zh,
    region.name_en as region_name_en
from ref.schools as schools
left join ref.county_areas as counties on counties.county_code = schools.county_code
left join ref.divisions as region on region.level = 'region';
