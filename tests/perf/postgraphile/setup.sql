-- What PostGraphile needs to answer the benchmark's queries, on the benchmark's throwaway
-- database only (never in the hub's migrations): a login role of its own (so that
-- pg_stat_statements counts its statements apart from the hub's), two computed columns
-- for the values the hub computes in Python (age, masked ID number) and a smart tag that
-- lets it order department records newest first as the hub does (PostGraphile v5 offers
-- orderBy only on indexed columns unless told otherwise). The foreign keys from
-- every record table to residents (and residents to grids and households) already exist:
-- they give PostGraphile its relations.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_postgraphile') THEN
    CREATE ROLE bench_postgraphile LOGIN;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO bench_postgraphile;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench_postgraphile;

-- Resident.age: whole years on today's date in China (UTC+8), as hub.clock.local_today.
CREATE OR REPLACE FUNCTION public.residents_age(r public.residents) RETURNS integer
  LANGUAGE sql STABLE AS $$
    SELECT extract(year FROM age((now() AT TIME ZONE 'UTC' + interval '8 hours')::date, r.birth_date))::integer
  $$;

-- Resident.maskedIdNumber: as hub.identity.mask_id_number (birth date and sequence hidden).
CREATE OR REPLACE FUNCTION public.residents_masked_id_number(r public.residents) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT substr(r.id_number, 1, 6) || '********' || substr(r.id_number, 15) $$;
GRANT EXECUTE ON FUNCTION public.residents_age(public.residents) TO bench_postgraphile;
GRANT EXECUTE ON FUNCTION public.residents_masked_id_number(public.residents) TO bench_postgraphile;

-- Department records newest first (the hub's order): source_updated_at has no index of its own.
COMMENT ON COLUMN public.health_family_doctor_contracts.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.health_vaccinations.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.health_chronic_conditions.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.social_insurance_enrollments.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.social_assistance_grants.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.education_school_enrollments.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.police_household_registrations.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.police_residence_permits.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.police_person_flags.source_updated_at IS E'@behavior +orderBy';
COMMENT ON COLUMN public.residents.grid_path IS E'@behavior +orderBy';
