"""Summaries the database keeps for the pages that count the whole history of reviews.

The findings page, the readiness of new findings, the test-set page and the statistics page
each counted every label or every review on every view (seconds at 100,000 studies, ten
times that at a million). These tables hold the counts instead, and on PostgreSQL triggers
keep them, in the transaction of each write, whoever makes it (the review service, a label
import, a bulk load):

- ``diagnosis_findinglabelcount``: images per current label finding, and how many of them
  are real. A trigger on reading states (and on a labelling review changing its finding)
  moves one count from the old label's finding to the new one's. The counts are filled from
  the existing rows here, under the lock that creating the trigger takes, so no write is
  missed or counted twice.
- ``diagnosis_reviewagreementweek``, ``diagnosis_reviewwaitweek``,
  ``diagnosis_suggestionfirstreview``, ``diagnosis_reviewstatsstate``: the statistics page.
  A trigger on new reviews adds each to its week (and takes out the review it supersedes);
  a trigger on new reviews and new suggestions records a suggestion's first clinician review
  once. Whatever the triggers cannot follow exactly (a review or suggestion changed or
  deleted after it was counted, a review older than the one counted as first) marks the
  summaries stale, and the next read of the page rebuilds them from the reviews
  (``diagnosis_stats_rebuild``, which ``diagnosis.review.stats`` calls). They are built here,
  in the server time zone, under the locks creating the triggers took: seconds on a large
  database, during which reviews and suggestions wait (as they do for any rebuild).

Locks: every trigger that touches the statistics summaries takes a shared advisory lock
(``STATS_LOCK``), and a rebuild takes it exclusively, so a rebuild never misses, nor counts
twice, a review written while it runs. Counter rows are updated in a fixed order (label
counts by finding id, statistics rows by week) so that two writers never wait on each
other in a cycle.

SQLite has no triggers here: the selectors count live there (development data is small).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

# diagnosis.review.stats.STATS_LOCK: "MASTAT".
STATS_LOCK = 0x4D41_5354_4154

LABEL_COUNTS = """
CREATE OR REPLACE FUNCTION diagnosis_label_of(
    p_status text, p_label bigint, OUT finding bigint, OUT is_real boolean
) LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- The current label (diagnosis.review.selectors.current_label_reviews): a reviewed
    -- reading state's label review, unless it rejected the image.
    IF p_status IS DISTINCT FROM 'reviewed' OR p_label IS NULL THEN
        RETURN;
    END IF;
    SELECT r.finding_id, NOT (st.is_synthetic OR p.is_synthetic)
      INTO finding, is_real
      FROM diagnosis_review r
      JOIN imaging_instance i ON i.id = r.instance_id
      JOIN imaging_series se ON se.id = i.series_id
      JOIN imaging_study st ON st.id = se.study_id
      JOIN medassist_patient p ON p.id = st.patient_id
     WHERE r.id = p_label AND r.action <> 'reject';
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_label_count_add(
    p_finding bigint, p_real boolean, p_sign integer
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO diagnosis_findinglabelcount AS c (finding_id, labelled, labelled_real)
    VALUES (p_finding, p_sign, CASE WHEN p_real THEN p_sign ELSE 0 END)
    ON CONFLICT (finding_id) DO UPDATE
       SET labelled = c.labelled + EXCLUDED.labelled,
           labelled_real = c.labelled_real + EXCLUDED.labelled_real;
$$;

CREATE OR REPLACE FUNCTION diagnosis_label_count_move(
    o_finding bigint, o_real boolean, n_finding bigint, n_real boolean
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF o_finding IS NOT DISTINCT FROM n_finding AND o_real IS NOT DISTINCT FROM n_real THEN
        RETURN;
    END IF;
    -- The lower finding id first, so that two transactions moving labels between the same
    -- two findings lock the two rows in the same order.
    IF o_finding IS NOT NULL AND (n_finding IS NULL OR o_finding <= n_finding) THEN
        PERFORM diagnosis_label_count_add(o_finding, o_real, -1);
        IF n_finding IS NOT NULL THEN
            PERFORM diagnosis_label_count_add(n_finding, n_real, 1);
        END IF;
    ELSE
        IF n_finding IS NOT NULL THEN
            PERFORM diagnosis_label_count_add(n_finding, n_real, 1);
        END IF;
        IF o_finding IS NOT NULL THEN
            PERFORM diagnosis_label_count_add(o_finding, o_real, -1);
        END IF;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_readingstate_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o_finding bigint;
    o_real boolean;
    n_finding bigint;
    n_real boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status
            AND OLD.label_id IS NOT DISTINCT FROM NEW.label_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT finding, is_real INTO o_finding, o_real
          FROM diagnosis_label_of(OLD.status, OLD.label_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT finding, is_real INTO n_finding, n_real
          FROM diagnosis_label_of(NEW.status, NEW.label_id);
    END IF;
    PERFORM diagnosis_label_count_move(o_finding, o_real, n_finding, n_real);
    RETURN NULL;
END;
$$;

CREATE TRIGGER diagnosis_readingstate_label_count
    AFTER INSERT OR UPDATE OR DELETE ON diagnosis_readingstate
    FOR EACH ROW EXECUTE FUNCTION diagnosis_readingstate_counted();
"""

# Filled under the SHARE ROW EXCLUSIVE lock CREATE TRIGGER took on the reading states.
LABEL_COUNTS_FILL = """
INSERT INTO diagnosis_findinglabelcount (finding_id, labelled, labelled_real)
SELECT r.finding_id, count(*), count(*) FILTER (WHERE NOT (st.is_synthetic OR p.is_synthetic))
  FROM diagnosis_readingstate rs
  JOIN diagnosis_review r ON r.id = rs.label_id
  JOIN imaging_instance i ON i.id = r.instance_id
  JOIN imaging_series se ON se.id = i.series_id
  JOIN imaging_study st ON st.id = se.study_id
  JOIN medassist_patient p ON p.id = st.patient_id
 WHERE rs.status = 'reviewed' AND r.action <> 'reject' AND r.finding_id IS NOT NULL
 GROUP BY r.finding_id;
"""

STATISTICS = """
CREATE OR REPLACE FUNCTION diagnosis_stats_week(p_at timestamptz, p_tz text) RETURNS date
LANGUAGE sql STABLE AS $$
    -- Django's TruncWeek in that time zone: the Monday the week starts.
    SELECT date_trunc('week', p_at AT TIME ZONE p_tz)::date;
$$;

CREATE OR REPLACE FUNCTION diagnosis_stats_mark_stale() RETURNS void LANGUAGE sql AS $$
    UPDATE diagnosis_reviewstatsstate SET stale = true WHERE id = 1 AND NOT stale;
$$;

CREATE OR REPLACE FUNCTION diagnosis_stats_agree(
    p_week date, p_finding bigint, p_version bigint, p_n integer, p_agreed integer
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO diagnosis_reviewagreementweek AS a (week, finding_key, version_key, n, agreed)
    VALUES (p_week, p_finding, p_version, p_n, p_agreed)
    ON CONFLICT (week, finding_key, version_key) DO UPDATE
       SET n = a.n + EXCLUDED.n, agreed = a.agreed + EXCLUDED.agreed;
$$;

-- Suggestion p_suggestion (made at p_made) was first reviewed at p_first, as far as this
-- transaction sees: counted once; a review earlier than the one counted makes the
-- summaries stale. (Two reviews of one image are serialised by the review service's lock
-- on the image, and a review and a new suggestion of one image by the foreign keys' locks
-- on it, so the one that comes second sees the first.)
CREATE OR REPLACE FUNCTION diagnosis_stats_first_review(
    p_suggestion bigint, p_made timestamptz, p_first timestamptz, p_tz text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    w date := diagnosis_stats_week(p_made, p_tz);
    waited double precision := extract(epoch FROM p_first - p_made)::double precision;
    counted double precision;
BEGIN
    INSERT INTO diagnosis_suggestionfirstreview (suggestion_key, week, wait_seconds)
    VALUES (p_suggestion, w, waited)
    ON CONFLICT (suggestion_key) DO NOTHING;
    IF FOUND THEN
        INSERT INTO diagnosis_reviewwaitweek AS ww (week, n, total_seconds, longest_seconds)
        VALUES (w, 1, waited, waited)
        ON CONFLICT (week) DO UPDATE
           SET n = ww.n + 1,
               total_seconds = ww.total_seconds + EXCLUDED.total_seconds,
               longest_seconds = greatest(ww.longest_seconds, EXCLUDED.longest_seconds);
        RETURN;
    END IF;
    SELECT wait_seconds INTO counted
      FROM diagnosis_suggestionfirstreview WHERE suggestion_key = p_suggestion;
    IF counted > waited THEN
        PERFORM diagnosis_stats_mark_stale();
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_review_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    m_week date;
    m_finding bigint;
    m_version bigint;
    m_agreed integer;
    g_week date;
    g_finding bigint;
    g_version bigint;
    g_agreed integer;
    s record;
    first_at timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock_shared({lock});
    SELECT time_zone INTO tz FROM diagnosis_reviewstatsstate WHERE id = 1;
    IF tz IS NULL THEN
        RETURN NULL;  -- never built: the first read builds everything
    END IF;
    -- Agreement: this review counts (a clinician accept or correction of a suggested image,
    -- current when written); the one it supersedes no longer does. (Not "unless something
    -- supersedes it already": AFTER triggers run at the end of their statement, so a COPY
    -- of a review and its correction shows both rows to both triggers; the correction's
    -- trigger takes the first one out.)
    IF NEW.source = 'clinician' AND NEW.suggestion_id IS NOT NULL
            AND NEW.action IN ('accept', 'correct') THEN
        SELECT diagnosis_stats_week(NEW.created_at, tz), coalesce(sg.top_finding_id, 0),
               sg.model_version_id, (NEW.action = 'accept')::integer
          INTO m_week, m_finding, m_version, m_agreed
          FROM diagnosis_suggestion sg WHERE sg.id = NEW.suggestion_id;
    END IF;
    IF NEW.supersedes_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM diagnosis_review WHERE id = NEW.supersedes_id) THEN
            -- Superseding a review not written yet (its foreign key is deferred): its own
            -- trigger will count it after this one took it out. Only a rebuild is right.
            PERFORM diagnosis_stats_mark_stale();
        END IF;
        SELECT diagnosis_stats_week(r.created_at, tz), coalesce(sg.top_finding_id, 0),
               sg.model_version_id, (r.action = 'accept')::integer
          INTO g_week, g_finding, g_version, g_agreed
          FROM diagnosis_review r JOIN diagnosis_suggestion sg ON sg.id = r.suggestion_id
         WHERE r.id = NEW.supersedes_id AND r.source = 'clinician'
           AND r.action IN ('accept', 'correct');
    END IF;
    -- The two rows in key order.
    IF g_week IS NOT NULL AND (m_week IS NULL
            OR (g_week, g_finding, g_version) < (m_week, m_finding, m_version)) THEN
        PERFORM diagnosis_stats_agree(g_week, g_finding, g_version, -1, -g_agreed);
        g_week := NULL;
    END IF;
    IF m_week IS NOT NULL THEN
        PERFORM diagnosis_stats_agree(m_week, m_finding, m_version, 1, m_agreed);
    END IF;
    IF g_week IS NOT NULL THEN
        PERFORM diagnosis_stats_agree(g_week, g_finding, g_version, -1, -g_agreed);
    END IF;
    IF NEW.source <> 'clinician' THEN
        RETURN NULL;
    END IF;
    -- Time to review: the image's OK suggestions made before this review, oldest first.
    FOR s IN SELECT sg.id, sg.created_at FROM diagnosis_suggestion sg
              WHERE sg.instance_id = NEW.instance_id AND sg.status = 'ok'
                AND sg.created_at <= NEW.created_at
              ORDER BY sg.created_at, sg.id LOOP
        SELECT min(r.created_at) INTO first_at FROM diagnosis_review r
         WHERE r.instance_id = NEW.instance_id AND r.source = 'clinician'
           AND r.created_at >= s.created_at;
        PERFORM diagnosis_stats_first_review(s.id, s.created_at, first_at, tz);
    END LOOP;
    -- Whether the page must say some figures involve synthetic data (set once, then no
    -- write at all).
    IF EXISTS (
        SELECT 1 FROM diagnosis_reviewstatsstate WHERE id = 1 AND NOT synthetic
    ) AND (
        EXISTS (SELECT 1 FROM imaging_instance i
                  JOIN imaging_series se ON se.id = i.series_id
                  JOIN imaging_study st ON st.id = se.study_id
                  JOIN medassist_patient p ON p.id = st.patient_id
                 WHERE i.id = NEW.instance_id AND p.is_synthetic)
        OR EXISTS (SELECT 1 FROM diagnosis_suggestion sg
                     JOIN diagnosis_modelversion mv ON mv.id = sg.model_version_id
                    WHERE sg.id = NEW.suggestion_id AND mv.trained_on_synthetic_data)
    ) THEN
        UPDATE diagnosis_reviewstatsstate SET synthetic = true WHERE id = 1 AND NOT synthetic;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_review_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    is_real boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.finding_id IS DISTINCT FROM NEW.finding_id
            OR OLD.action IS DISTINCT FROM NEW.action)
            AND EXISTS (SELECT 1 FROM diagnosis_readingstate
                         WHERE label_id = NEW.id AND status = 'reviewed') THEN
        -- A current label's review changed its finding: move the label count.
        SELECT NOT (st.is_synthetic OR p.is_synthetic) INTO is_real
          FROM imaging_instance i
          JOIN imaging_series se ON se.id = i.series_id
          JOIN imaging_study st ON st.id = se.study_id
          JOIN medassist_patient p ON p.id = st.patient_id
         WHERE i.id = NEW.instance_id;
        PERFORM diagnosis_label_count_move(
            CASE WHEN OLD.action <> 'reject' THEN OLD.finding_id END, is_real,
            CASE WHEN NEW.action <> 'reject' THEN NEW.finding_id END, is_real
        );
    END IF;
    IF TG_OP = 'DELETE' OR (OLD.created_at, OLD.action, OLD.source, OLD.suggestion_id,
            OLD.supersedes_id, OLD.instance_id)
            IS DISTINCT FROM (NEW.created_at, NEW.action, NEW.source, NEW.suggestion_id,
            NEW.supersedes_id, NEW.instance_id) THEN
        PERFORM pg_advisory_xact_lock_shared({lock});
        PERFORM diagnosis_stats_mark_stale();
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_suggestion_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    first_at timestamptz;
BEGIN
    -- A suggestion made after its image was reviewed (a rescore): its first review, if a
    -- later one exists already. Usually none does, and this costs one index probe.
    IF NEW.status <> 'ok' OR NOT EXISTS (
        SELECT 1 FROM diagnosis_review r
         WHERE r.instance_id = NEW.instance_id AND r.source = 'clinician'
           AND r.created_at >= NEW.created_at
    ) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock_shared({lock});
    SELECT time_zone INTO tz FROM diagnosis_reviewstatsstate WHERE id = 1;
    IF tz IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT min(r.created_at) INTO first_at FROM diagnosis_review r
     WHERE r.instance_id = NEW.instance_id AND r.source = 'clinician'
       AND r.created_at >= NEW.created_at;
    PERFORM diagnosis_stats_first_review(NEW.id, NEW.created_at, first_at, tz);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_suggestion_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (OLD.created_at, OLD.status, OLD.top_finding_id,
            OLD.model_version_id, OLD.instance_id)
            IS DISTINCT FROM (NEW.created_at, NEW.status, NEW.top_finding_id,
            NEW.model_version_id, NEW.instance_id) THEN
        PERFORM pg_advisory_xact_lock_shared({lock});
        PERFORM diagnosis_stats_mark_stale();
    END IF;
    RETURN NULL;
END;
$$;

-- Rebuild the statistics summaries from the reviews in time zone p_tz, unless they are
-- fresh (or p_force); returns whether it rebuilt. Waits for the triggers of every review
-- being written (they hold STATS_LOCK shared); the ones written meanwhile wait for it and
-- then add their reviews to the rebuilt rows.
CREATE OR REPLACE FUNCTION diagnosis_stats_rebuild(p_tz text, p_force boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({lock});
    IF NOT p_force AND EXISTS (
        SELECT 1 FROM diagnosis_reviewstatsstate WHERE id = 1 AND NOT stale AND time_zone = p_tz
    ) THEN
        RETURN false;
    END IF;
    TRUNCATE diagnosis_reviewagreementweek, diagnosis_reviewwaitweek,
             diagnosis_suggestionfirstreview;
    INSERT INTO diagnosis_reviewagreementweek (week, finding_key, version_key, n, agreed)
    SELECT diagnosis_stats_week(r.created_at, p_tz), coalesce(sg.top_finding_id, 0),
           sg.model_version_id, count(*), count(*) FILTER (WHERE r.action = 'accept')
      FROM diagnosis_review r JOIN diagnosis_suggestion sg ON sg.id = r.suggestion_id
     WHERE r.source = 'clinician' AND r.action IN ('accept', 'correct')
       AND NOT EXISTS (SELECT 1 FROM diagnosis_review x WHERE x.supersedes_id = r.id)
     GROUP BY 1, 2, 3;
    INSERT INTO diagnosis_suggestionfirstreview (suggestion_key, week, wait_seconds)
    SELECT sg.id, diagnosis_stats_week(sg.created_at, p_tz),
           extract(epoch FROM min(r.created_at) - sg.created_at)::double precision
      FROM diagnosis_suggestion sg
      JOIN diagnosis_review r ON r.instance_id = sg.instance_id AND r.source = 'clinician'
                             AND r.created_at >= sg.created_at
     WHERE sg.status = 'ok'
     GROUP BY sg.id;
    INSERT INTO diagnosis_reviewwaitweek (week, n, total_seconds, longest_seconds)
    SELECT week, count(*), sum(wait_seconds), max(wait_seconds)
      FROM diagnosis_suggestionfirstreview GROUP BY week;
    INSERT INTO diagnosis_reviewstatsstate (id, time_zone, stale, synthetic, built_at)
    VALUES (1, p_tz, false, EXISTS (
        SELECT 1 FROM diagnosis_review r
          JOIN imaging_instance i ON i.id = r.instance_id
          JOIN imaging_series se ON se.id = i.series_id
          JOIN imaging_study st ON st.id = se.study_id
          JOIN medassist_patient p ON p.id = st.patient_id
          LEFT JOIN diagnosis_suggestion sg ON sg.id = r.suggestion_id
          LEFT JOIN diagnosis_modelversion mv ON mv.id = sg.model_version_id
         WHERE r.source = 'clinician' AND (p.is_synthetic OR mv.trained_on_synthetic_data)
    ), now())
    ON CONFLICT (id) DO UPDATE SET time_zone = EXCLUDED.time_zone, stale = false,
        synthetic = EXCLUDED.synthetic, built_at = EXCLUDED.built_at;
    RETURN true;
END;
$$;

CREATE TRIGGER diagnosis_review_summaries_insert
    AFTER INSERT ON diagnosis_review
    FOR EACH ROW EXECUTE FUNCTION diagnosis_review_added();
CREATE TRIGGER diagnosis_review_summaries_change
    AFTER UPDATE OR DELETE ON diagnosis_review
    FOR EACH ROW EXECUTE FUNCTION diagnosis_review_changed();
CREATE TRIGGER diagnosis_suggestion_summaries_insert
    AFTER INSERT ON diagnosis_suggestion
    FOR EACH ROW EXECUTE FUNCTION diagnosis_suggestion_added();
CREATE TRIGGER diagnosis_suggestion_summaries_change
    AFTER UPDATE OR DELETE ON diagnosis_suggestion
    FOR EACH ROW EXECUTE FUNCTION diagnosis_suggestion_changed();
""".replace("{lock}", str(STATS_LOCK))

DROP = """
DROP TRIGGER IF EXISTS diagnosis_readingstate_label_count ON diagnosis_readingstate;
DROP TRIGGER IF EXISTS diagnosis_review_summaries_insert ON diagnosis_review;
DROP TRIGGER IF EXISTS diagnosis_review_summaries_change ON diagnosis_review;
DROP TRIGGER IF EXISTS diagnosis_suggestion_summaries_insert ON diagnosis_suggestion;
DROP TRIGGER IF EXISTS diagnosis_suggestion_summaries_change ON diagnosis_suggestion;
DROP FUNCTION IF EXISTS diagnosis_readingstate_counted();
DROP FUNCTION IF EXISTS diagnosis_review_added();
DROP FUNCTION IF EXISTS diagnosis_review_changed();
DROP FUNCTION IF EXISTS diagnosis_suggestion_added();
DROP FUNCTION IF EXISTS diagnosis_suggestion_changed();
DROP FUNCTION IF EXISTS diagnosis_stats_rebuild(text, boolean);
DROP FUNCTION IF EXISTS diagnosis_stats_first_review(bigint, timestamptz, timestamptz, text);
DROP FUNCTION IF EXISTS diagnosis_stats_agree(date, bigint, bigint, integer, integer);
DROP FUNCTION IF EXISTS diagnosis_stats_mark_stale();
DROP FUNCTION IF EXISTS diagnosis_stats_week(timestamptz, text);
DROP FUNCTION IF EXISTS diagnosis_label_count_move(bigint, boolean, bigint, boolean);
DROP FUNCTION IF EXISTS diagnosis_label_count_add(bigint, boolean, integer);
DROP FUNCTION IF EXISTS diagnosis_label_of(text, bigint);
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(LABEL_COUNTS, None)
    schema_editor.execute(LABEL_COUNTS_FILL, None)
    schema_editor.execute(STATISTICS, None)
    schema_editor.execute(
        "SELECT diagnosis_stats_rebuild(%s, true)", [timezone.get_current_timezone_name()]
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP, None)


class Migration(migrations.Migration):
    dependencies = [
        ("diagnosis", "0017_study_finding"),
    ]

    operations = [
        migrations.CreateModel(
            name="FindingLabelCount",
            fields=[
                (
                    "finding",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="label_count",
                        serialize=False,
                        to="diagnosis.finding",
                    ),
                ),
                ("labelled", models.IntegerField(default=0)),
                ("labelled_real", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="ReviewStatsState",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("time_zone", models.CharField(max_length=64)),
                ("stale", models.BooleanField(default=False)),
                ("synthetic", models.BooleanField(default=False)),
                ("built_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="ReviewWaitWeek",
            fields=[
                ("week", models.DateField(primary_key=True, serialize=False)),
                ("n", models.IntegerField(default=0)),
                ("total_seconds", models.FloatField(default=0.0)),
                ("longest_seconds", models.FloatField(default=0.0)),
            ],
        ),
        migrations.CreateModel(
            name="ReviewAgreementWeek",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("week", models.DateField()),
                ("finding_key", models.BigIntegerField(default=0)),
                ("version_key", models.BigIntegerField()),
                ("n", models.IntegerField(default=0)),
                ("agreed", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("week", "finding_key", "version_key"),
                        name="review_agreement_week_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SuggestionFirstReview",
            fields=[
                ("suggestion_key", models.BigIntegerField(primary_key=True, serialize=False)),
                ("week", models.DateField()),
                ("wait_seconds", models.FloatField()),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
