"""SQLite: the logs search and metadata filter by index, not by a scan of every record.

- gateway_requestlog_fts: an FTS5 index of search_text with the trigram tokenizer (an
  external-content table: the text stays in gateway_requestlog only). A phrase query of 3+
  characters is a case-insensitive substring match, as `icontains` was, found by index.
- gateway_logmetadata: one row per (key, string value, log) of each record's metadata, its
  primary key ordered so that one key=value walks its records newest first.
Triggers keep both in step with every insert, update and delete (retention's included).
PostgreSQL has its own indexes (0003, 0006): every operation here is a no-op there.

Django rebuilds a SQLite table for some schema changes ("remake"), which drops its triggers:
tests/test_log_search.py fails if a later migration does that to gateway_requestlog.
"""

from django.db import migrations

FTS = "gateway_requestlog_fts"
META = "gateway_logmetadata"


def _object(row: str) -> str:
    """The record's metadata if it is a JSON object, else an empty one (no error either way)."""
    valid = f"CASE WHEN json_valid({row}.metadata) THEN {row}.metadata END"
    return f"CASE WHEN json_type({valid}) = 'object' THEN {row}.metadata ELSE '{{}}' END"


def _metadata_rows(row: str) -> str:
    """The (key, value, id) rows of a record's metadata: each string value of a top-level key,
    what the metadata filter compares (duplicate keys: INSERT OR IGNORE)."""
    return f"SELECT key, value, {row}.id FROM json_each({_object(row)}) WHERE type = 'text'"


FORWARD = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='gateway_requestlog', "
    "content_rowid='id', tokenize='trigram')",
    f"CREATE TABLE {META} (key TEXT NOT NULL, value TEXT NOT NULL, log_id INTEGER NOT NULL, "
    "PRIMARY KEY (key, value, log_id)) WITHOUT ROWID",
    # The records already there: FTS5's 'rebuild' reads the whole content table.
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
    f"INSERT OR IGNORE INTO {META} (key, value, log_id) SELECT j.key, j.value, r.id "
    f"FROM gateway_requestlog r, json_each({_object('r')}) j WHERE j.type = 'text'",
    # An empty search_text has no trigrams: it is skipped both ways.
    f"""CREATE TRIGGER gateway_requestlog_search_insert AFTER INSERT ON gateway_requestlog
    WHEN new.search_text != '' BEGIN
        INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    f"""CREATE TRIGGER gateway_requestlog_search_delete AFTER DELETE ON gateway_requestlog
    WHEN old.search_text != '' BEGIN
        INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    END""",
    f"""CREATE TRIGGER gateway_requestlog_search_update AFTER UPDATE OF search_text
    ON gateway_requestlog BEGIN
        INSERT INTO {FTS}({FTS}, rowid, search_text)
            SELECT 'delete', old.id, old.search_text WHERE old.search_text != '';
        INSERT INTO {FTS}(rowid, search_text)
            SELECT new.id, new.search_text WHERE new.search_text != '';
    END""",
    f"""CREATE TRIGGER gateway_requestlog_metadata_insert AFTER INSERT ON gateway_requestlog
    WHEN new.metadata != '{{}}' BEGIN
        INSERT OR IGNORE INTO {META} (key, value, log_id) {_metadata_rows("new")};
    END""",
    f"""CREATE TRIGGER gateway_requestlog_metadata_delete AFTER DELETE ON gateway_requestlog
    WHEN old.metadata != '{{}}' BEGIN
        DELETE FROM {META} WHERE (key, value, log_id) IN ({_metadata_rows("old")});
    END""",
    f"""CREATE TRIGGER gateway_requestlog_metadata_update AFTER UPDATE OF metadata
    ON gateway_requestlog BEGIN
        DELETE FROM {META} WHERE (key, value, log_id) IN ({_metadata_rows("old")});
        INSERT OR IGNORE INTO {META} (key, value, log_id) {_metadata_rows("new")};
    END""",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS gateway_requestlog_search_insert",
    "DROP TRIGGER IF EXISTS gateway_requestlog_search_delete",
    "DROP TRIGGER IF EXISTS gateway_requestlog_search_update",
    "DROP TRIGGER IF EXISTS gateway_requestlog_metadata_insert",
    "DROP TRIGGER IF EXISTS gateway_requestlog_metadata_delete",
    "DROP TRIGGER IF EXISTS gateway_requestlog_metadata_update",
    f"DROP TABLE IF EXISTS {FTS}",
    f"DROP TABLE IF EXISTS {META}",
]


def _sqlite(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("gateway", "0015_keys_cannot_read_logs_by_default")]

    operations = [migrations.RunPython(_sqlite(FORWARD), _sqlite(BACKWARD))]
