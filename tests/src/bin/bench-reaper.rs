//! Benchmark of whole reaper runs against the local AWS (run by `./dev bench` after bench-logic;
//! needs the environment of `local_env` in ./dev). Prints figures; exits non-zero only when a run
//! fails or decides differently from what the seeded inventory implies.
//!
//! It seeds 2,000 stacks (`BENCH_REAPER_STACKS` changes that) in a region of its own (most not opted in or young, about 10% expired
//! with an owner, some exporting, a few protected, nested, in progress or otherwise blocked),
//! then replays four scheduled runs in enforce mode with its own marks table and topic:
//! first notices, a steady state in the grace period, final notices, and deletions (capped).
//! Per run: wall time, the requests the local AWS served for this bench's access key (by
//! operation, and per listed stack), and the floor those requests should come to: the listing's
//! pages plus one call per action, with nothing for stacks that are kept or skipped.

use lifeguard_reaper::aws::{CloudFormationClient, DynamoDbMarks, SnsNotifier};
use lifeguard_reaper::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG};
use lifeguard_reaper::{Action, Mode, Reaper, ReaperConfig, ReasonCode, RunReport, Timestamp, handle};
use lifeguard_tests::{LocalAws, reaper_invocation, scheduled_event, stack_template};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const REGION: &str = "sa-east-1";
/// Stacks seeded: `BENCH_REAPER_STACKS`, default 2,000 (at least the opted-in mix, 622); the
/// stacks beyond the mix are not opted in.
static STACKS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    let opted_in: usize = MIX.iter().map(|(_, n)| n).sum();
    let wanted = stacks_wanted();
    assert!(wanted >= opted_in, "BENCH_REAPER_STACKS={wanted}: expected a whole number >= {opted_in}");
    wanted
});
const OWNERS: usize = 20;
/// Stack creations in flight while seeding.
const SEED_IN_FLIGHT: usize = 8;
/// Stacks per `DescribeStacks` page (CloudFormation's, and the local AWS's).
const PAGE: usize = 50;
const MAX_DELETIONS: u32 = 5;
const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// What a seeded stack is, and so what the reaper should decide about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No `lifeguard:temporary=true`: team stacks, production, shared infrastructure.
    NotOptedIn,
    /// Not opted in, imports the export of an [`Kind::ExporterInUse`].
    Importer,
    /// Opted in, expires long after the last run.
    Young,
    /// Young, with an export nobody imports.
    YoungExporter,
    /// Opted in, owned, expired: goes through the whole notice cycle.
    Expired,
    /// Expired, with an export nobody imports: the same cycle, after a look at its imports.
    ExpiredExporter,
    /// Expired, with an export an importer uses: blocked, reported on every run.
    ExporterInUse,
    /// Expired, termination protection on.
    TerminationProtected,
    /// Expired, no owner tag: reported to the operators only.
    Ownerless,
    /// A lifecycle tag that does not parse.
    Malformed,
    /// Expired, `ROLLBACK_COMPLETE`.
    RolledBack,
    /// Expired, `UPDATE_IN_PROGRESS`.
    InProgress,
    /// Expired, nested in another stack.
    Nested,
    /// Expired, named like production or the reaper's own stack.
    ProtectedName,
}

/// The inventory, in creation order: (kind, how many). The rest is [`Kind::NotOptedIn`]. With
/// `BENCH_REAPER_MIX=expired`, every stack is expired, owned and deletable (the issue's "2,000
/// expired temporary stacks"): the first-notice run then marks them all.
static MIX: std::sync::LazyLock<Vec<(Kind, usize)>> =
    std::sync::LazyLock::new(|| match std::env::var("BENCH_REAPER_MIX").as_deref() {
        Ok("expired") => vec![(Kind::Expired, stacks_wanted())],
        Ok(other) => panic!("BENCH_REAPER_MIX={other:?}: expected `expired` (or unset: the default mix)"),
        Err(_) => DEFAULT_MIX.to_vec(),
    });

/// `BENCH_REAPER_STACKS`, default 2,000.
fn stacks_wanted() -> usize {
    std::env::var("BENCH_REAPER_STACKS").ok().and_then(|text| text.trim().parse().ok()).unwrap_or(2_000)
}

/// The default inventory.
const DEFAULT_MIX: &[(Kind, usize)] = &[
    (Kind::ProtectedName, 2),
    (Kind::Young, 340),
    (Kind::YoungExporter, 20),
    (Kind::Expired, 190),
    (Kind::ExpiredExporter, 10),
    (Kind::ExporterInUse, 10),
    (Kind::TerminationProtected, 5),
    (Kind::Ownerless, 5),
    (Kind::Malformed, 5),
    (Kind::RolledBack, 5),
    (Kind::InProgress, 10),
    (Kind::Nested, 10),
    (Kind::Importer, 10),
];

/// Stacks that go through the notice cycle to deletion.
const DELETABLE: [Kind; 2] = [Kind::Expired, Kind::ExpiredExporter];

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    name: String,
    tags: Vec<(String, String)>,
    exports: Vec<String>,
    imports: Vec<String>,
    protected: bool,
}

/// The stacks, expiring relative to `t0` (every stack is created after it).
fn inventory(t0: Timestamp) -> Vec<Spec> {
    let opted_in: usize = MIX.iter().map(|(_, n)| n).sum();
    let kinds = MIX
        .iter()
        .flat_map(|&(kind, n)| std::iter::repeat_n(kind, n))
        .chain(std::iter::repeat_n(Kind::NotOptedIn, *STACKS - opted_in));
    let teams = ["payments", "search", "checkout", "identity", "data", "platform", "mobile"];
    let mut owned = 0;
    let mut next_owner = || {
        owned += 1;
        format!("dev{:02}@example.com", owned % OWNERS)
    };
    let mut exported_in_use = 0;
    let mut imported = 0;
    let mut specs = Vec::with_capacity(*STACKS);
    for (i, kind) in kinds.enumerate() {
        let team = teams[i % teams.len()];
        let mut tags: Vec<(&str, String)> = Vec::new();
        let temporary = |tags: &mut Vec<(&str, String)>| tags.push((TEMPORARY_TAG, "true".into()));
        let (mut exports, mut imports, mut protected) = (Vec::new(), Vec::new(), false);
        let name = match kind {
            Kind::ProtectedName => ["lifeguard", "lifeguard-reaper"][i % 2].to_owned(),
            Kind::NotOptedIn | Kind::Importer => format!("{team}-service-{i:04}"),
            _ => format!("{team}-pr-{i:04}"),
        };
        match kind {
            Kind::NotOptedIn | Kind::Importer => {
                tags.push(("team", team.into()));
                if i % 10 == 0 {
                    tags.push((TEMPORARY_TAG, "false".into()));
                }
                if kind == Kind::Importer {
                    imports.push(format!("{REGION}-bench-in-use-{imported}"));
                    imported += 1;
                }
            }
            Kind::Young | Kind::YoungExporter => {
                temporary(&mut tags);
                tags.push((OWNER_TAG, next_owner()));
                match i % 3 {
                    0 => tags.push((TTL_TAG, "30d".into())),
                    1 => tags.push((TTL_TAG, "2w".into())),
                    _ => tags.push((EXPIRES_AT_TAG, t0.plus(Duration::from_secs(40 * DAY)).to_string())),
                }
                if kind == Kind::YoungExporter {
                    exports.push(format!("{name}-url"));
                }
            }
            Kind::Malformed => {
                temporary(&mut tags);
                tags.push((OWNER_TAG, next_owner()));
                tags.push((TTL_TAG, "3 days".into()));
            }
            _ => {
                temporary(&mut tags);
                if kind != Kind::Ownerless {
                    tags.push((OWNER_TAG, next_owner()));
                }
                if i % 3 == 0 {
                    tags.push((EXPIRES_AT_TAG, t0.plus(Duration::from_secs(DAY)).to_string()));
                } else {
                    tags.push((TTL_TAG, "1d".into()));
                }
                match kind {
                    Kind::ExpiredExporter => exports.push(format!("{name}-url")),
                    Kind::ExporterInUse => {
                        exports.push(format!("{REGION}-bench-in-use-{exported_in_use}"));
                        exported_in_use += 1;
                    }
                    Kind::TerminationProtected => protected = true,
                    _ => {}
                }
            }
        }
        let tags = tags.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        specs.push(Spec { kind, name, tags, exports, imports, protected });
    }
    assert_eq!(imported, exported_in_use, "one importer per export in use");
    specs
}

/// Creates the stacks, at most [`SEED_IN_FLIGHT`] at a time; returns their ids by name.
async fn create(aws: &LocalAws, specs: &[Spec]) -> HashMap<String, String> {
    let mut ids = HashMap::with_capacity(specs.len());
    let mut in_flight = JoinSet::new();
    for spec in specs {
        if in_flight.len() >= SEED_IN_FLIGHT {
            let (name, id) = in_flight.join_next().await.expect("a creation in flight").expect("CreateStack");
            ids.insert(name, id);
        }
        let (aws, spec) = (aws.clone(), spec.clone());
        in_flight.spawn(async move {
            let exports: Vec<&str> = spec.exports.iter().map(String::as_str).collect();
            let imports: Vec<&str> = spec.imports.iter().map(String::as_str).collect();
            let tags: Vec<(&str, &str)> = spec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let template = stack_template(&exports, &imports);
            let id = aws.create_stack(&spec.name, &template, &tags, spec.protected).await;
            (spec.name, id)
        });
    }
    while let Some(done) = in_flight.join_next().await {
        let (name, id) = done.expect("CreateStack");
        ids.insert(name, id);
    }
    ids
}

/// Seeds the inventory: exporters before importers, then the states moto cannot create.
async fn seed(aws: &LocalAws, specs: &[Spec]) -> Duration {
    let started = Instant::now();
    let (importers, others): (Vec<Spec>, Vec<Spec>) =
        specs.iter().cloned().partition(|s| s.kind == Kind::Importer);
    let mut ids = create(aws, &others).await;
    ids.extend(create(aws, &importers).await);
    for spec in specs {
        let id = &ids[&spec.name];
        match spec.kind {
            // Nested in the mix's stack named like the reaper's own.
            Kind::Nested => aws.set_stack_state(id, None, Some(&ids["lifeguard"])),
            Kind::InProgress => aws.set_stack_state(id, Some("UPDATE_IN_PROGRESS"), None),
            Kind::RolledBack => aws.set_stack_state(id, Some("ROLLBACK_COMPLETE"), None),
            _ => {}
        }
    }
    started.elapsed()
}

fn count(specs: &[Spec], kinds: &[Kind]) -> usize {
    specs.iter().filter(|s| kinds.contains(&s.kind)).count()
}

/// The decisions every run should show for the stacks outside the notice cycle.
fn standing_reasons(specs: &[Spec]) -> BTreeMap<ReasonCode, usize> {
    use ReasonCode as R;
    [
        (R::NotOptedIn, count(specs, &[Kind::NotOptedIn, Kind::Importer])),
        (R::NotExpired, count(specs, &[Kind::Young, Kind::YoungExporter])),
        (R::ExportsInUse, count(specs, &[Kind::ExporterInUse])),
        (R::TerminationProtected, count(specs, &[Kind::TerminationProtected])),
        (R::NoOwner, count(specs, &[Kind::Ownerless])),
        (R::MalformedTag, count(specs, &[Kind::Malformed])),
        (R::FailedStatus, count(specs, &[Kind::RolledBack])),
        (R::UnsettledStatus, count(specs, &[Kind::InProgress])),
        (R::Nested, count(specs, &[Kind::Nested])),
        (R::ProtectedName, count(specs, &[Kind::ProtectedName])),
    ]
    .into_iter()
    .collect()
}

/// One replayed run: its event time (after `t0`) and the decisions about the deletable stacks.
struct Step {
    label: &'static str,
    after: Duration,
    cycle: Vec<(ReasonCode, usize)>,
}

/// The requests a run should make, by operation: the listing's pages; one call per thing done
/// (two for a tag, which reads the stack's tags back first; two or three for a deletion, which
/// describes the stack again first); and, the only per-stack cost outside actions, a describe
/// plus a lookup per export for each expired exporter, whose imports the listing cannot rule out.
/// Nothing for a stack that is kept or skipped otherwise.
#[derive(Debug, Default)]
struct Floor {
    pages: u64,
    actions: u64,
    doubts: u64,
    by_operation: BTreeMap<&'static str, u64>,
}

impl Floor {
    fn total(&self) -> u64 {
        self.pages + self.actions + self.doubts
    }

    fn add(&mut self, operation: &'static str, pages: usize, actions: usize, doubts: usize) {
        let (pages, actions, doubts) = (pages as u64, actions as u64, doubts as u64);
        self.pages += pages;
        self.actions += actions;
        self.doubts += doubts;
        if pages + actions + doubts > 0 {
            *self.by_operation.entry(operation).or_default() += pages + actions + doubts;
        }
    }
}

fn floor(report: &RunReport, exporters: &BTreeSet<&str>) -> Floor {
    let entries = &report.stacks;
    let counts = &report.counts;
    // The listing shows no stack's resources (nor whether its exports are imported): a first plan
    // that stopped there makes the run list the stack's resources (ListStackResources; an
    // exporter is described instead: DescribeStacks, ListStackResources and ListImports per
    // export), then plan again — only when, that doubt settled, the stack would be marked or
    // deleted. Kept ones (grace running) and ones blocked further on (no owner) cost nothing.
    let settled = |reason: ReasonCode| {
        use ReasonCode as R;
        matches!(
            reason,
            R::NotDeletable
                | R::ExportsInUse
                | R::ExpiredFirstNotice
                | R::FinalNotice
                | R::ModeReport
                | R::DeletionCapReached
                | R::Delete
        )
    };
    let doubts = entries.iter().filter(|s| settled(s.reason)).count();
    let export_doubts =
        entries.iter().filter(|s| exporters.contains(s.name.as_str()) && settled(s.reason)).count();
    let deletions = entries.iter().filter(|s| s.decision == Action::Delete);
    let exporter_deletions = deletions.clone().filter(|s| exporters.contains(s.name.as_str())).count();
    let deletions = deletions.count();
    let mut floor = Floor::default();
    let listing_pages = counts.stacks.div_ceil(PAGE).max(1);
    floor.add("cloudformation.DescribeStacks", listing_pages, deletions, export_doubts);
    floor.add("cloudformation.ListStackResources", 0, deletions, doubts);
    floor.add("cloudformation.ListImports", 0, exporter_deletions, export_doubts);
    floor.add("cloudformation.DeleteStack", 0, counts.deletions_requested, 0);
    // Per run: the marks page, the day's deletion count, the lease taken and given back.
    floor.add("dynamodb.Scan", 1, 0, 0);
    floor.add("dynamodb.GetItem", 1, 0, 0);
    floor.add("dynamodb.PutItem", 1, 0, 0);
    floor.add("dynamodb.DeleteItem", 1, 0, 0);
    // Marks written and cleared in transactions of up to 100 (at least one per kind of change).
    let transactions = counts.marks_written.div_ceil(100) + counts.marks_cleared.div_ceil(100);
    floor.add("dynamodb.TransactWriteItems", 0, transactions, 0);
    floor.add("dynamodb.UpdateItem", 0, counts.deletions_requested, 0);
    // Per enforce-mode run: who the topic reaches (its one subscription, the test queue).
    floor.add("sns.ListSubscriptionsByTopic", 1, 0, 0);
    floor.add("sns.GetSubscriptionAttributes", 1, 0, 0);
    floor.add("sns.Publish", 0, counts.owners_notified + usize::from(report.digest_sent), 0);
    floor
}

fn difference(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

struct Row {
    label: &'static str,
    at: String,
    wall: Duration,
    calls: BTreeMap<String, u64>,
    floor: Floor,
    report: RunReport,
}

/// The short names of the operations in the table, in its order.
const COLUMNS: [(&str, &str); 11] = [
    ("cloudformation.DescribeStacks", "Describe"),
    ("cloudformation.ListStackResources", "Resources"),
    ("cloudformation.ListImports", "Imports"),
    ("cloudformation.DeleteStack", "Delete"),
    ("dynamodb.Scan", "Scan"),
    ("dynamodb.GetItem", "Get"),
    ("dynamodb.PutItem", "Put"),
    ("dynamodb.UpdateItem", "Update"),
    ("dynamodb.DeleteItem", "DelItem"),
    ("dynamodb.TransactWriteItems", "Transact"),
    ("sns.Publish", "Publish"),
];

fn print_tables(rows: &[Row], stacks: usize) {
    println!(
        "\n{:<26} {:>7} {:>6} {:>6} {:>8} {:>7} {:>7} {:>9} | {}",
        "run (event time)",
        "wall s",
        "calls",
        "pages",
        "actions",
        "doubts",
        "excess",
        "per stack",
        COLUMNS.iter().fold(String::new(), |mut header, (_, short)| {
            write!(header, "{short:>9}").expect("writing to a String");
            header
        })
    );
    for row in rows {
        let total: u64 = row.calls.values().sum();
        let floor = &row.floor;
        let cell = |op: &str| {
            let got = row.calls.get(op).copied().unwrap_or(0);
            let want = floor.by_operation.get(op).copied().unwrap_or(0);
            if got == want { format!("{got:>9}") } else { format!("{:>9}", format!("{got}/{want}")) }
        };
        println!(
            "{:<26} {:>7.2} {:>6} {:>6} {:>8} {:>7} {:>7} {:>9.4} | {}",
            format!("{} ({})", row.label, row.at),
            row.wall.as_secs_f64(),
            total,
            floor.pages,
            floor.actions,
            floor.doubts,
            total.cast_signed() - floor.total().cast_signed(),
            total as f64 / stacks as f64,
            COLUMNS.iter().map(|(op, _)| cell(op)).collect::<String>()
        );
    }
    let others: BTreeSet<&String> =
        rows.iter().flat_map(|r| r.calls.keys()).filter(|op| !COLUMNS.iter().any(|(c, _)| c == op)).collect();
    if !others.is_empty() {
        println!("other operations called: {others:?}");
    }
    println!(
        "calls: requests the local AWS served during the run, by operation (a cell \"a/b\" is calls/expected). \
         pages: DescribeStacks pages = ceil({stacks}/{PAGE}) = {} plus, per run, one Scan page of marks, the \
         day's deletion count (GetItem), the lease (PutItem, DeleteItem) and the topic's subscriptions \
         (ListSubscriptionsByTopic, GetSubscriptionAttributes per confirmed one). actions: TransactWriteItems per 100 marks \
         written or cleared, Publish per owner notified + 1 digest, DescribeStacks + ListStackResources \
         (+ ListImports per export) + UpdateItem (the day's count) + DeleteStack per deletion. doubts: \
         ListStackResources (an exporter: DescribeStacks + ListStackResources + ListImports per export) of each \
         expired stack that would be marked or deleted were its resources and exports known (the listing shows \
         neither). excess: calls beyond \
         pages + actions + doubts.",
        stacks.div_ceil(PAGE)
    );
    println!(
        "\n{:<26} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>7} {:>7} | reasons",
        "run", "keep", "warn", "delete", "skip", "deleted", "marked", "cleared", "owners", "digest"
    );
    for row in rows {
        let c = &row.report.counts;
        let reasons: Vec<String> = c.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "{:<26} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>7} {:>7} | {}{}",
            row.label,
            c.keep,
            c.warn,
            c.delete,
            c.skip,
            c.deletions_requested,
            c.marks_written,
            c.marks_cleared,
            c.owners_notified,
            row.report.digest_sent,
            reasons.join(", "),
            if row.report.deletion_cap_reached { " (deletion cap reached)" } else { "" }
        );
    }
}

#[tokio::main]
async fn main() {
    use ReasonCode as R;
    let aws = LocalAws::connect_isolated(REGION).await;
    let t0 = Timestamp::now().whole_seconds();
    let specs = inventory(t0);
    let exporters: BTreeSet<&str> =
        specs.iter().filter(|s| !s.exports.is_empty()).map(|s| s.name.as_str()).collect();
    let deletable = count(&specs, &DELETABLE);
    println!(
        "reaper against the local AWS: {} stacks in {REGION} ({} opted in, {deletable} expired with an \
         owner over {OWNERS} owners, {} exporting; seeding {SEED_IN_FLIGHT} at a time) ...",
        *STACKS,
        count(&specs, &MIX.iter().map(|(k, _)| *k).filter(|k| *k != Kind::Importer).collect::<Vec<_>>()),
        exporters.len(),
    );
    let seeding = seed(&aws, &specs).await;
    let seed_calls: u64 = aws.request_counts().values().sum();
    println!(
        "seeded in {:.1} s ({seed_calls} requests: CreateStack and a DescribeStacks check each, {:.1} ms per stack)",
        seeding.as_secs_f64(),
        seeding.as_secs_f64() * 1e3 / *STACKS as f64
    );

    let table = aws.create_marks_table("bench-reaper-marks").await;
    let (topic, _queue) = aws.topic_with_queue("bench-reaper-notices").await;
    let reaper = Reaper {
        stacks: CloudFormationClient::new(&aws.sdk),
        marks: Some(DynamoDbMarks::new(&aws.sdk, &table)),
        notifier: Some(SnsNotifier::new(&aws.sdk, &topic)),
        config: ReaperConfig {
            mode: Mode::Enforce,
            allowed_stacks: Some(vec!["*".into()]),
            allow_replay: true,
            max_deletions: MAX_DELETIONS,
            topic_arn: Some(topic.clone()),
            marks_table: Some(table.clone()),
            ..ReaperConfig::default()
        },
    };

    let capped = deletable - MAX_DELETIONS as usize;
    let days = |d: u64, h: u64| Duration::from_secs(d * DAY + h * HOUR);
    let steps = [
        Step { label: "1 first notices", after: days(2, 0), cycle: vec![(R::ExpiredFirstNotice, deletable)] },
        Step { label: "2 mid-grace", after: days(3, 0), cycle: vec![(R::GraceRunning, deletable)] },
        Step { label: "3 final notices", after: days(4, 12), cycle: vec![(R::FinalNotice, deletable)] },
        Step {
            label: "4 deletions",
            after: days(5, 1),
            cycle: vec![(R::Delete, MAX_DELETIONS as usize), (R::DeletionCapReached, capped)],
        },
    ];
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for step in &steps {
        let at = t0.plus(step.after);
        let before = aws.request_counts();
        let started = Instant::now();
        let result = handle(Ok(&reaper), &scheduled_event(at), &reaper_invocation()).await;
        let wall = started.elapsed();
        let calls = difference(&aws.request_counts(), &before);
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                eprintln!("run {}: {error}", step.label);
                problems.push(format!("run {} failed: {error}", step.label));
                break;
            }
        };
        let mut expected = standing_reasons(&specs);
        expected.extend(step.cycle.iter().copied());
        if report.counts.reasons != expected {
            problems.push(format!(
                "run {}: decisions {:?}, expected {:?}",
                step.label, report.counts.reasons, expected
            ));
        }
        let problems_in_run: usize =
            report.stacks.iter().map(|s| s.problems.len()).sum::<usize>() + report.problems.len();
        if problems_in_run > 0 {
            let first = report.stacks.iter().flat_map(|s| &s.problems).chain(&report.problems).next();
            problems
                .push(format!("run {}: {problems_in_run} problems reported, first: {first:?}", step.label));
        }
        let floor = floor(&report, &exporters);
        let offset = step.after.as_secs();
        let at_label = format!("t0+{}d{}h", offset / DAY, offset % DAY / HOUR);
        println!(
            "run {} at {at}: {:.2} s, {} calls {}",
            step.label,
            wall.as_secs_f64(),
            calls.values().sum::<u64>(),
            json!(calls)
        );
        rows.push(Row { label: step.label, at: at_label, wall, calls, floor, report });
    }
    print_tables(&rows, *STACKS);
    let deleted: usize = rows.iter().map(|r| r.report.counts.deletions_requested).sum();
    let left = aws.stack_names().await.len();
    if left != *STACKS - deleted {
        problems.push(format!("{left} stacks left after {deleted} deletions of {}", *STACKS));
    }

    // Forget the stacks: a local AWS shared with other work should not keep 2,000 of them.
    aws.control("POST", "/_lifeguard/cloudformation/clear-region", Some(&json!({"region": REGION})));
    if !problems.is_empty() {
        eprintln!("\nbench-reaper: {}", problems.join("\n  "));
        std::process::exit(1);
    }
}
