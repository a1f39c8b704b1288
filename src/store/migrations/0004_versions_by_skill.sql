-- 0004: versions by (skill, state). Without it, SQLite answered `WHERE skill_id = ? AND state = 'published'`
-- (a skill's published versions: version list, metadata, escalation baseline, latestVersion) from
-- versions_state, reading every published version of every skill: a cost that grew with the registry.
CREATE INDEX versions_skill_state ON versions(skill_id, state);
