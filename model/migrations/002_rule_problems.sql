CREATE TABLE IF NOT EXISTS rule_problems (
    run_id       VARCHAR NOT NULL,
    evaluated_at TIMESTAMP NOT NULL,
    rule_id      VARCHAR,
    rule_file    VARCHAR NOT NULL,
    field        VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL
);
COMMENT ON TABLE rule_problems IS 'Rules (and waivers) the last evaluation could not apply: rejected files, refused SQL, time or row limits, run-time errors. Replaced by every evaluation.';
COMMENT ON COLUMN rule_problems.run_id IS 'The evaluation (sync run or check) that skipped them.';
COMMENT ON COLUMN rule_problems.evaluated_at IS 'When the rules were evaluated (UTC).';
COMMENT ON COLUMN rule_problems.rule_id IS 'The rule skipped, when its file names one.';
COMMENT ON COLUMN rule_problems.rule_file IS 'The rule file (or folder, or waivers file) at fault.';
COMMENT ON COLUMN rule_problems.field IS 'The field of that file at fault, e.g. query.';
COMMENT ON COLUMN rule_problems.reason IS 'Why it was not evaluated; its open findings carry over unchanged.';
