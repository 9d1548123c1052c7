/// The schema, as an ordered list of migrations. Never edit a released migration: add one.
package enum Schema {
    package static let migrations: [Migration] = [
        Migration(id: "0001-tracking") { kind in
            let autoId = kind.autoIncrementPrimaryKey
            let withoutRowId = kind == .sqlite ? " WITHOUT ROWID" : ""
            let double = kind.doubleType
            return [
                """
                CREATE TABLE experiments (
                    experiment_id \(autoId),
                    name TEXT NOT NULL UNIQUE,
                    artifact_location TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL,
                    creation_time BIGINT NOT NULL,
                    last_update_time BIGINT NOT NULL)
                """,
                """
                CREATE TABLE experiment_tags (
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (experiment_id, key))
                """,
                """
                CREATE TABLE runs (
                    run_id TEXT NOT NULL PRIMARY KEY,
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    name TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    start_time BIGINT NOT NULL,
                    end_time BIGINT,
                    lifecycle_stage TEXT NOT NULL,
                    artifact_uri TEXT NOT NULL,
                    deleted_time BIGINT)
                """,
                "CREATE INDEX runs_experiment_stage_start ON runs (experiment_id, lifecycle_stage, start_time)",
                """
                CREATE TABLE params (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, key))
                """,
                "CREATE INDEX params_key_value ON params (key, value)",
                """
                CREATE TABLE tags (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, key))
                """,
                "CREATE INDEX tags_key_value ON tags (key, value)",
                // Every logged point; identical points collapse, as in MLflow (the key includes the value).
                """
                CREATE TABLE metrics (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    key TEXT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    step BIGINT NOT NULL,
                    value \(double) NOT NULL,
                    is_nan BOOLEAN NOT NULL,
                    PRIMARY KEY (run_id, key, timestamp, step, value, is_nan))\(withoutRowId)
                """,
                """
                CREATE TABLE latest_metrics (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    key TEXT NOT NULL,
                    value \(double) NOT NULL,
                    timestamp BIGINT NOT NULL,
                    step BIGINT NOT NULL,
                    is_nan BOOLEAN NOT NULL,
                    PRIMARY KEY (run_id, key))
                """,
                "CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value)",
                """
                CREATE TABLE datasets (
                    dataset_id TEXT NOT NULL PRIMARY KEY,
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    name TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    source_type TEXT NOT NULL,
                    source TEXT NOT NULL,
                    schema TEXT,
                    profile TEXT,
                    UNIQUE (experiment_id, name, digest))
                """,
                """
                CREATE TABLE run_inputs (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    dataset_id TEXT NOT NULL REFERENCES datasets (dataset_id),
                    position BIGINT NOT NULL,
                    PRIMARY KEY (run_id, dataset_id))
                """,
            ] + metricTriggers(kind) + [
                """
                CREATE TABLE run_input_tags (
                    run_id TEXT NOT NULL,
                    dataset_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, dataset_id, key),
                    FOREIGN KEY (run_id, dataset_id) REFERENCES run_inputs (run_id, dataset_id))
                """,
            ]
        },
        // The Model Registry. Models have a surrogate key so that a rename is one UPDATE and child rows
        // never need ON UPDATE CASCADE; children are deleted explicitly, in the deleting transaction.
        Migration(id: "0002-registry") { kind in
            let autoId = kind.autoIncrementPrimaryKey
            return [
                """
                CREATE TABLE registered_models (
                    model_id \(autoId),
                    name TEXT NOT NULL UNIQUE,
                    creation_time BIGINT NOT NULL,
                    last_updated_time BIGINT NOT NULL,
                    description TEXT,
                    user_id TEXT,
                    last_version BIGINT NOT NULL)
                """,
                "CREATE INDEX registered_models_last_updated ON registered_models (last_updated_time, name)",
                """
                CREATE TABLE registered_model_tags (
                    model_id BIGINT NOT NULL REFERENCES registered_models (model_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (model_id, key))
                """,
                "CREATE INDEX registered_model_tags_key_value ON registered_model_tags (key, value)",
                """
                CREATE TABLE model_versions (
                    model_id BIGINT NOT NULL REFERENCES registered_models (model_id),
                    version BIGINT NOT NULL,
                    creation_time BIGINT NOT NULL,
                    last_updated_time BIGINT NOT NULL,
                    description TEXT,
                    user_id TEXT,
                    current_stage TEXT NOT NULL,
                    source TEXT,
                    storage_location TEXT,
                    run_id TEXT,
                    run_link TEXT,
                    status TEXT NOT NULL,
                    status_message TEXT,
                    PRIMARY KEY (model_id, version))
                """,
                "CREATE INDEX model_versions_stage ON model_versions (model_id, current_stage, version)",
                "CREATE INDEX model_versions_run_id ON model_versions (run_id)",
                "CREATE INDEX model_versions_last_updated ON model_versions (last_updated_time)",
                """
                CREATE TABLE model_version_tags (
                    model_id BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (model_id, version, key),
                    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version))
                """,
                "CREATE INDEX model_version_tags_key_value ON model_version_tags (key, value)",
                """
                CREATE TABLE registered_model_aliases (
                    model_id BIGINT NOT NULL,
                    alias TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    PRIMARY KEY (model_id, alias),
                    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version))
                """,
            ]
        },
        // MLflow 3 logged models. Run metrics keep their own tables untouched: a point logged with a
        // model_id is also written to logged_model_metrics, as MLflow does, so the metric hot path and
        // its triggers do not change. Model inputs and outputs of runs need no model to exist (MLflow
        // does not check), so they carry no foreign key to logged_models.
        Migration(id: "0003-logged-models") { kind in
            let autoId = kind.autoIncrementPrimaryKey
            let double = kind.doubleType
            return [
                """
                CREATE TABLE logged_models (
                    model_id TEXT NOT NULL PRIMARY KEY,
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    name TEXT NOT NULL,
                    artifact_location TEXT NOT NULL,
                    creation_timestamp_ms BIGINT NOT NULL,
                    last_updated_timestamp_ms BIGINT NOT NULL,
                    status BIGINT NOT NULL,
                    lifecycle_stage TEXT NOT NULL,
                    model_type TEXT,
                    source_run_id TEXT,
                    status_message TEXT)
                """,
                """
                CREATE INDEX logged_models_experiment_created
                ON logged_models (experiment_id, lifecycle_stage, creation_timestamp_ms)
                """,
                // `runs:/<run>/<name>` is resolved by a search on the model's name within the run's experiment.
                "CREATE INDEX logged_models_experiment_name ON logged_models (experiment_id, name)",
                """
                CREATE TABLE logged_model_tags (
                    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (model_id, key))
                """,
                "CREATE INDEX logged_model_tags_key_value ON logged_model_tags (key, value)",
                """
                CREATE TABLE logged_model_params (
                    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (model_id, key))
                """,
                "CREATE INDEX logged_model_params_key_value ON logged_model_params (key, value)",
                // `seq` keeps logging order, in which MLflow lists a model's metrics. NaN is stored as 0 and
                // has no flag here: MLflow's logged-model metrics keep the sanitized value only.
                """
                CREATE TABLE logged_model_metrics (
                    seq \(autoId),
                    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
                    key TEXT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    step BIGINT NOT NULL,
                    value \(double) NOT NULL,
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    dataset_name TEXT,
                    dataset_digest TEXT,
                    UNIQUE (model_id, key, timestamp, step, run_id))
                """,
                """
                CREATE TABLE run_model_outputs (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    model_id TEXT NOT NULL,
                    step BIGINT NOT NULL,
                    position BIGINT NOT NULL,
                    PRIMARY KEY (run_id, model_id))
                """,
                """
                CREATE TABLE run_model_inputs (
                    run_id TEXT NOT NULL REFERENCES runs (run_id),
                    model_id TEXT NOT NULL,
                    position BIGINT NOT NULL,
                    PRIMARY KEY (run_id, model_id))
                """,
            ]
        },
        // Swiftflow's promotion audit trail: one row per alias moved by a policy rule. Rows name the
        // model rather than reference it, so the trail outlives a deleted model; a rename updates them.
        Migration(id: "0004-registry-promotions") { kind in
            let autoId = kind.autoIncrementPrimaryKey
            return [
                """
                CREATE TABLE registry_promotions (
                    promotion_id \(autoId),
                    model_name TEXT NOT NULL,
                    alias TEXT NOT NULL,
                    rule_name TEXT NOT NULL,
                    old_version BIGINT,
                    new_version BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    promoted_time BIGINT NOT NULL)
                """,
                "CREATE INDEX registry_promotions_model ON registry_promotions (model_name, promotion_id)",
            ]
        },
        // Version searches ordered by version number across many models read versions in this order
        // and stop at the page's end instead of sorting every version.
        Migration(id: "0005-model-version-number-index") { _ in
            ["CREATE INDEX model_versions_version ON model_versions (version, model_id)"]
        },
        // PostgreSQL: the metric rules once per statement instead of once per row (a 1,000-point batch
        // ran 2,000 PL/pgSQL calls), with `latest_metrics` rows locked in key order, so that replicas
        // upserting the same keys wait for each other instead of deadlocking.
        Migration(id: "0006-statement-metric-triggers") { kind in
            kind == .postgres ? postgresStatementMetricTriggers : []
        },
        // PostgreSQL: how often each value goes with each key. Without it the planner multiplies the
        // two selectivities, guesses a tenth of the matches for `key = 'p1' AND value = 'v3'`, and
        // probes metrics run by run instead of joining them (a filtered search: 15 ms -> 10 ms).
        Migration(id: "0007-key-value-statistics") { kind in
            guard kind == .postgres else { return [] }
            return ["params", "tags", "latest_metrics"].map { table in
                "CREATE STATISTICS \(table)_key_value_mcv (mcv) ON key, value FROM \(table)"
            }
        },
    ]

    /// Keeps `latest_metrics` current and refuses points for runs that are not active, inside the
    /// statement that inserts the points: logging metrics is then one statement, atomic on its own.
    package static func metricTriggers(_ kind: DatabaseKind) -> [String] {
        switch kind {
        case .sqlite:
            return [
                """
                CREATE TRIGGER metrics_require_active_run BEFORE INSERT ON metrics
                WHEN (SELECT lifecycle_stage FROM runs WHERE run_id = NEW.run_id) IS NOT 'active'
                BEGIN SELECT RAISE(ABORT, '\(runNotActiveMarker)'); END
                """,
                // The newest point wins: larger step, then later timestamp, then larger stored value. Like
                // MLflow's SQL store, the values compared are the stored ones, where NaN is 0.
                """
                CREATE TRIGGER metrics_update_latest AFTER INSERT ON metrics
                BEGIN
                    INSERT INTO latest_metrics (run_id, key, value, timestamp, step, is_nan)
                    VALUES (NEW.run_id, NEW.key, NEW.value, NEW.timestamp, NEW.step, NEW.is_nan)
                    ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp,
                        step = excluded.step, is_nan = excluded.is_nan
                    WHERE excluded.step > latest_metrics.step
                        OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp)
                        OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp
                            AND excluded.value > latest_metrics.value);
                END
                """,
            ]
        case .postgres:
            // The same two rules in PL/pgSQL. Row triggers run inside the inserting statement, so a batch
            // stays one atomic statement; the upsert is safe against concurrent writers of the same key.
            return [
                """
                CREATE FUNCTION metrics_require_active_run() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF (SELECT lifecycle_stage FROM runs WHERE run_id = NEW.run_id) IS DISTINCT FROM 'active' THEN
                        RAISE EXCEPTION '\(runNotActiveMarker)';
                    END IF;
                    RETURN NEW;
                END
                $$
                """,
                """
                CREATE TRIGGER metrics_require_active_run BEFORE INSERT ON metrics
                FOR EACH ROW EXECUTE FUNCTION metrics_require_active_run()
                """,
                """
                CREATE FUNCTION metrics_update_latest() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO latest_metrics AS l (run_id, key, value, timestamp, step, is_nan)
                    VALUES (NEW.run_id, NEW.key, NEW.value, NEW.timestamp, NEW.step, NEW.is_nan)
                    \(postgresNewestPointWins);
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER metrics_update_latest AFTER INSERT ON metrics
                FOR EACH ROW EXECUTE FUNCTION metrics_update_latest()
                """,
            ]
        }
    }

    /// The upsert of a point into `latest_metrics AS l` that only replaces an older point.
    static let postgresNewestPointWins = """
        ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp,
            step = excluded.step, is_nan = excluded.is_nan
        WHERE excluded.step > l.step
            OR (excluded.step = l.step AND excluded.timestamp > l.timestamp)
            OR (excluded.step = l.step AND excluded.timestamp = l.timestamp AND excluded.value > l.value)
        """

    /// The same two rules as `metricTriggers(.postgres)`, over each statement's new rows.
    static let postgresStatementMetricTriggers = [
        "DROP TRIGGER metrics_require_active_run ON metrics",
        "DROP TRIGGER metrics_update_latest ON metrics",
        "DROP FUNCTION metrics_require_active_run()",
        "DROP FUNCTION metrics_update_latest()",
        """
        CREATE FUNCTION metrics_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM (SELECT DISTINCT run_id FROM new_points) n LEFT JOIN runs r ON r.run_id = n.run_id
                WHERE r.lifecycle_stage IS DISTINCT FROM 'active'
            ) THEN
                RAISE EXCEPTION '\(runNotActiveMarker)';
            END IF;
            INSERT INTO latest_metrics AS l (run_id, key, value, timestamp, step, is_nan)
            SELECT DISTINCT ON (run_id, key) run_id, key, value, timestamp, step, is_nan FROM new_points
            ORDER BY run_id, key, step DESC, timestamp DESC, value DESC
            \(postgresNewestPointWins);
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER metrics_after_insert AFTER INSERT ON metrics
        REFERENCING NEW TABLE AS new_points FOR EACH STATEMENT EXECUTE FUNCTION metrics_after_insert()
        """,
    ]

    /// The text the active-run trigger aborts with; the store turns it into MLflow's error.
    package static let runNotActiveMarker = "swiftflow: run is not active"
}
