-- What PostGraphile needs to answer the benchmark's queries, on the benchmark's throwaway
-- database only (never in the hub's migrations): a login role of its own (so that
-- pg_stat_statements counts its statements apart from the hub's), a clear-text copy of
-- residents' ID and phone numbers, computed columns for the values the hub computes in
-- Python (age, masked ID number) or opens (ID number, phone), a lookup by ID number, and a
-- smart tag that lets it order department records newest first as the hub does (PostGraphile
-- v5 offers orderBy only on indexed columns unless told otherwise). The foreign keys from
-- every record table to residents (and residents to grids and households) already exist:
-- they give PostGraphile its relations.
--
-- The hub stores ID and phone numbers sealed (AES-GCM under its field keys, hub/crypto) and
-- finds an ID number through a keyed blind index; PostGraphile can do neither. The benchmark
-- opens every resident's numbers with the hub's key ring after seeding and writes them here
-- (tests/perf/bench_numbers.py fill_clear_copy): PostGraphile reads clear text the hub
-- never stores.
CREATE TABLE IF NOT EXISTS public.bench_resident_numbers (
  resident_id text PRIMARY KEY REFERENCES public.residents (id) ON DELETE CASCADE,
  id_number text NOT NULL UNIQUE,
  phone text
);
-- Only the computed columns and the lookup below show it: no type or query of its own.
COMMENT ON TABLE public.bench_resident_numbers IS E'@behavior -*';

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

-- Resident.idNumber and Resident.phone: from the clear-text copy (the hub opens the sealed values).
CREATE OR REPLACE FUNCTION public.residents_id_number(r public.residents) RETURNS text
  LANGUAGE sql STABLE AS $$
    SELECT n.id_number FROM public.bench_resident_numbers n WHERE n.resident_id = r.id
  $$;
COMMENT ON FUNCTION public.residents_id_number(public.residents) IS E'@notNull';
CREATE OR REPLACE FUNCTION public.residents_phone(r public.residents) RETURNS text
  LANGUAGE sql STABLE AS $$
    SELECT n.phone FROM public.bench_resident_numbers n WHERE n.resident_id = r.id
  $$;

-- Resident.maskedIdNumber: as hub.identity.mask_id_number (birth date and sequence hidden).
CREATE OR REPLACE FUNCTION public.residents_masked_id_number(r public.residents) RETURNS text
  LANGUAGE sql STABLE AS $$
    SELECT substr(n.id_number, 1, 6) || '********' || substr(n.id_number, 15)
    FROM public.bench_resident_numbers n WHERE n.resident_id = r.id
  $$;

-- Query.residentByIdNumber: the resident whose ID number is given (the copy's unique index;
-- the hub asks its blind index instead).
CREATE OR REPLACE FUNCTION public.resident_by_id_number(id_number text) RETURNS public.residents
  LANGUAGE sql STABLE STRICT AS $$
    SELECT r.* FROM public.residents r
    JOIN public.bench_resident_numbers n ON n.resident_id = r.id
    WHERE n.id_number = resident_by_id_number.id_number
  $$;
GRANT EXECUTE ON FUNCTION public.residents_age(public.residents) TO bench_postgraphile;
GRANT EXECUTE ON FUNCTION public.residents_id_number(public.residents) TO bench_postgraphile;
GRANT EXECUTE ON FUNCTION public.residents_phone(public.residents) TO bench_postgraphile;
GRANT EXECUTE ON FUNCTION public.residents_masked_id_number(public.residents) TO bench_postgraphile;
GRANT EXECUTE ON FUNCTION public.resident_by_id_number(text) TO bench_postgraphile;

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
