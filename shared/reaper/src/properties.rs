//! Randomised checks of the planner's safety rules: a seeded generator drives thousands of cases
//! of stacks, marks and configurations, and each rule is checked against the raw inputs.
#![expect(clippy::cast_possible_truncation, reason = "draws below small bounds narrowed to u32 and usize")]

use crate::config::{Mode, ReaperConfig};
use crate::glob::glob_matches;
use crate::plan::{
    Action, Circumstances, DELETABLE_RESOURCE_TYPES, Mark, MarkChange, Plan, ReasonCode, SETTLED_STATUSES,
    StackInfo, StackResource, plan,
};
use crate::recipients::{Admission, DIGEST_OWNER, OwnerCondition, Recipients};
use crate::tags::{EXPIRES_AT_TAG, OWNER_TAG, TEMPORARY_TAG, TTL_TAG, is_email};
use lifeguard_common::time::{Timestamp, parse_duration};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

const CASES: usize = 3_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// xorshift64*: small, fast and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An instant within `spread` seconds either side of `around`.
    fn near(&mut self, around: Timestamp, spread: u64) -> Timestamp {
        let offset = self.below(2 * spread + 1).cast_signed() - spread.cast_signed();
        Timestamp::from_unix_seconds(around.unix_seconds() + offset)
    }
}

const STATUSES: &[&str] = &[
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "IMPORT_COMPLETE",
    "CREATE_IN_PROGRESS",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
    "REVIEW_IN_PROGRESS",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "UPDATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "DELETE_COMPLETE",
];
const SERVICE_ROLES: &[&str] =
    &["arn:aws:iam::123456789012:role/feature-deployer", "arn:aws:iam::123456789012:role/admin"];
const NAMES: &[&str] = &["pr-", "feature-", "shared-", "lifeguard", "lifeguard-reaper", "keep-", "demo"];

fn random_config(rng: &mut Rng) -> ReaperConfig {
    let default_ttl = Duration::from_secs((1 + rng.below(30 * 24)) * HOUR);
    let max_lifetime = default_ttl + Duration::from_secs(rng.below(60) * DAY);
    let mode = if rng.chance(70) { Mode::Enforce } else { Mode::Report };
    // Enforce mode never runs without an allowlist (the settings refuse it).
    let allowed_stacks = match rng.below(4) {
        0 if mode == Mode::Report => None,
        0 | 1 => Some(vec!["pr-*".into(), "feature-*".into()]),
        2 => Some(vec!["pr-?".into()]),
        _ => Some(vec!["*".into()]),
    };
    ReaperConfig {
        mode,
        allowed_stacks,
        disabled: rng.chance(5),
        grace: Duration::from_secs((1 + rng.below(7 * 24)) * HOUR),
        max_deletions: rng.below(7) as u32,
        default_ttl,
        max_lifetime,
        allowed_roles: if rng.chance(50) { vec!["arn:aws:iam::*:role/feature-*".into()] } else { vec![] },
        protected_stacks: match rng.below(3) {
            0 => vec![],
            1 => vec!["shared-*".into()],
            _ => vec!["keep-?".into(), "demo".into()],
        },
        ..ReaperConfig::default()
    }
}

fn resource(resource_type: &str, status: &str) -> StackResource {
    StackResource {
        logical_id: "Resource".into(),
        resource_type: resource_type.into(),
        status: status.into(),
    }
}

/// A random stack; `lenient` cases lean towards deletable ones so the cap and deletion paths
/// are exercised, while still breaking single rules now and then.
fn random_stack(rng: &mut Rng, index: usize, now: Timestamp, lenient: bool) -> StackInfo {
    let mut stack = any_stack(rng, index, now);
    if lenient {
        let rule_to_break = rng.below(12);
        if rule_to_break != 0 {
            stack.tags.insert(TEMPORARY_TAG.into(), "true".into());
        }
        if rule_to_break != 1 {
            stack.tags.insert(OWNER_TAG.into(), "dev@example.com".into());
        }
        if rule_to_break != 2 {
            stack.status = (*rng.pick(SETTLED_STATUSES)).to_owned();
        }
        if rule_to_break != 3 {
            stack.termination_protection = Some(false);
        }
        if rule_to_break != 4 {
            stack.exports_in_use = false;
        }
        if rule_to_break != 5 {
            stack.parent_id = None;
        }
        if rule_to_break != 7 {
            stack.service_role = None;
        }
        if rule_to_break != 8 {
            stack.resources = Some(Vec::new());
        }
        if rule_to_break != 9 && stack.created.is_none() {
            stack.created = Some(now.minus(Duration::from_secs(rng.below(30 * DAY))));
        }
        if rule_to_break != 6 && rng.chance(70) {
            stack.tags.remove(TTL_TAG);
            stack.tags.remove(EXPIRES_AT_TAG);
        }
    }
    stack
}

fn any_stack(rng: &mut Rng, index: usize, now: Timestamp) -> StackInfo {
    let prefix = *rng.pick(NAMES);
    let name = if prefix.ends_with('-') { format!("{prefix}{}", rng.below(12)) } else { prefix.to_owned() };
    let created = Timestamp::from_unix_seconds(now.unix_seconds() - rng.below(90 * DAY).cast_signed());
    let mut tags = BTreeMap::new();
    let mut tag = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            tags.insert(key.to_owned(), value);
        }
    };
    let temporary = match rng.below(10) {
        0 => None,
        1 => Some("false".into()),
        2 => Some("yes".into()),
        _ => Some("true".into()),
    };
    tag(TEMPORARY_TAG, temporary);
    let owner = match rng.below(8) {
        0 => None,
        1 => Some("not an address".into()),
        2 => Some("dev@localhost".into()),
        n => Some(format!("dev{n}@example.com")),
    };
    tag(OWNER_TAG, owner);
    let ttl = match rng.below(6) {
        0 => Some(format!("{}h", rng.below(2_000))),
        1 => Some(format!("{}d", 1 + rng.below(90))),
        2 => Some(format!("{}w", 1 + rng.below(12))),
        3 => Some((*rng.pick(&["3 days", "7", "2m", "-1d", ""])).to_owned()),
        _ => None,
    };
    tag(TTL_TAG, ttl);
    let expires_at = match rng.below(6) {
        0 | 1 => Some(rng.near(now, 20 * DAY).to_string()),
        2 => Some(rng.near(created, 90 * DAY).to_string()),
        3 => Some(
            (*rng.pick(&[
                "2026-01-01T00:00:00+02:00",
                "2026-02-30T00:00:00Z",
                "next week",
                "2026-01-01T00:00:00",
            ]))
            .to_owned(),
        ),
        _ => None,
    };
    tag(EXPIRES_AT_TAG, expires_at);
    StackInfo {
        name,
        id: format!("arn:stack/{index}"),
        status: (*rng.pick(STATUSES)).to_owned(),
        created: (!rng.chance(6)).then_some(created),
        last_updated: None,
        parent_id: rng.chance(10).then(|| "arn:parent".to_owned()),
        service_role: rng.chance(30).then(|| (*rng.pick(SERVICE_ROLES)).to_owned()),
        termination_protection: *rng.pick(&[None, Some(true), Some(false), Some(false), Some(false)]),
        tags,
        exports: Vec::new(),
        exports_in_use: rng.chance(15),
        resources: match rng.below(5) {
            0 => None,
            1 => Some(vec![resource("AWS::S3::Bucket", "CREATE_COMPLETE")]),
            2 => Some(vec![resource("AWS::Lambda::Function", "IMPORT_COMPLETE")]),
            _ => Some(vec![resource("AWS::Lambda::Function", "UPDATE_COMPLETE")]),
        },
    }
}

/// A random mark; `lenient` ones are mostly ripe (old, notified twice, expiry unchanged).
fn random_mark(
    rng: &mut Rng,
    stack: Option<&StackInfo>,
    config: &ReaperConfig,
    now: Timestamp,
    lenient: bool,
) -> Mark {
    let first_notice = Timestamp::from_unix_seconds(now.unix_seconds() - rng.below(10 * DAY).cast_signed());
    let mut mark = Mark {
        stack_id: stack.map_or_else(|| "arn:stack/gone".to_owned(), |s| s.id.clone()),
        first_notice,
        delete_after: first_notice.plus(Duration::from_secs(rng.below(10 * DAY))),
        expiry_seen: rng.near(now, 30 * DAY),
        notices: rng.below(4) as u32,
        times_snoozed: rng.below(3) as u32,
        mode: if rng.chance(80) { Mode::Enforce } else { Mode::Report },
        owner: if rng.chance(85) {
            stack.and_then(|s| s.tags.get(OWNER_TAG)).map(|o| o.trim().to_owned())
        } else {
            Some("someone-else@example.com".to_owned())
        },
    };
    if lenient && rng.chance(80) {
        mark.first_notice = now.minus(config.grace).minus(Duration::from_secs(rng.below(DAY)));
        mark.delete_after = mark.first_notice.plus(config.grace);
        mark.notices = 2;
        if let Some(expiry) = stack.and_then(|s| expected_expiry(s, config)) {
            mark.expiry_seen = expiry;
        }
    }
    mark
}

/// The stack's expiry computed straight from its tags, or `None` when a tag is malformed.
fn expected_expiry(stack: &StackInfo, config: &ReaperConfig) -> Option<Timestamp> {
    let ttl = stack.tags.get(TTL_TAG).map(|v| parse_duration(v));
    let expires_at = stack.tags.get(EXPIRES_AT_TAG).map(|v| Timestamp::parse_rfc3339(v));
    match (expires_at, ttl) {
        (Some(Err(_)), _) | (_, Some(Err(_))) => None,
        (Some(Ok(at)), _) => Some(at),
        (None, Some(Ok(ttl))) => Some(stack.created?.plus(ttl)),
        (None, None) => Some(stack.created?.plus(config.default_ttl)),
    }
}

fn owner_is_valid(stack: &StackInfo) -> bool {
    stack.tags.get(OWNER_TAG).is_some_and(|o| is_email(o.trim()))
}

/// Whether every safety rule allows deleting the stack now, checked one by one on the inputs.
fn deletable(
    stack: &StackInfo,
    mark: Option<&Mark>,
    config: &ReaperConfig,
    now: Timestamp,
    recipients: &Recipients,
) -> bool {
    let opted_in = stack.tags.get(TEMPORARY_TAG).is_some_and(|v| v == "true");
    let protected = config.protected_patterns().any(|p| glob_matches(p, &stack.name));
    let allowed =
        config.allowed_stacks.as_ref().is_none_or(|a| a.iter().any(|p| glob_matches(p, &stack.name)));
    let malformed_owner = stack.tags.get(OWNER_TAG).is_some_and(|o| !is_email(o.trim()));
    let resources_deletable = stack.resources.as_ref().is_some_and(|resources| {
        resources.iter().all(|r| {
            !r.status.starts_with("IMPORT_")
                && (stack.service_role.is_some()
                    || DELETABLE_RESOURCE_TYPES.contains(&r.resource_type.as_str()))
        })
    });
    let role_allowed = stack
        .service_role
        .as_ref()
        .is_none_or(|role| config.allowed_roles.iter().any(|p| glob_matches(p, role)));
    let Some(expiry) = expected_expiry(stack, config) else { return false };
    let Some(mark) = mark else { return false };
    config.mode == Mode::Enforce
        && !config.disabled
        && opted_in
        && stack.parent_id.is_none()
        && stack.termination_protection == Some(false)
        && (SETTLED_STATUSES.contains(&stack.status.as_str()) || stack.status == "DELETE_FAILED")
        && !protected
        && allowed
        && role_allowed
        && resources_deletable
        && !stack.exports_in_use
        && owner_is_valid(stack)
        && !malformed_owner
        && expiry <= now
        && expiry <= mark.expiry_seen
        && mark.first_notice.plus(config.grace) <= now
        && mark.delete_after <= now
        && mark.notices >= 2
        && mark.mode == Mode::Enforce
        && mark.owner.as_deref() == stack.tags.get(OWNER_TAG).map(|o| o.trim())
        && stack.tags.get(OWNER_TAG).is_some_and(|o| recipients.admit(o.trim()))
        && stack.created.is_some()
}

/// Who the topic reaches: everyone, the lenient cases' owner and the operators, or the operators
/// alone.
fn random_recipients(rng: &mut Rng) -> Recipients {
    let operators = Admission::Owners(vec![OwnerCondition::Exactly(DIGEST_OWNER.into())]);
    match rng.below(5) {
        0..=2 => Recipients::everyone(),
        3 => Recipients {
            subscriptions: vec![
                operators,
                Admission::Owners(vec![OwnerCondition::Exactly("dev@example.com".into())]),
            ],
        },
        _ => Recipients { subscriptions: vec![operators] },
    }
}

fn check_case(
    case: usize,
    stacks: &[StackInfo],
    marks: &[Mark],
    config: &ReaperConfig,
    now: Timestamp,
    circumstances: &Circumstances,
) {
    let plan: Plan = plan(stacks, marks, config, now, circumstances);
    let context = || format!("case {case}: {config:?}");
    let marks_by_id: HashMap<&str, &Mark> = marks.iter().map(|m| (m.stack_id.as_str(), m)).collect();
    assert_eq!(plan.decisions.len(), stacks.len(), "{}", context());

    let mut eligible = 0;
    for (stack, decision) in stacks.iter().zip(&plan.decisions) {
        assert_eq!((&decision.stack_id, &decision.stack_name), (&stack.id, &stack.name));
        let mark = marks_by_id.get(stack.id.as_str()).copied();
        let can_delete = deletable(stack, mark, config, now, &circumstances.recipients);
        eligible += usize::from(can_delete);
        if decision.action == Action::Delete {
            assert!(
                can_delete,
                "{}: deleted an ineligible stack\n{stack:#?}\n{mark:#?}\n{decision:#?}",
                context()
            );
            assert_eq!(decision.reason, ReasonCode::Delete);
        }
        if can_delete {
            assert!(
                matches!(decision.reason, ReasonCode::Delete | ReasonCode::DeletionCapReached),
                "{}: missed an eligible stack\n{stack:#?}\n{mark:#?}\n{decision:#?}",
                context()
            );
        }
        if let (Some(mark), Some(expiry)) = (mark, expected_expiry(stack, config))
            && expiry > now
            && expiry > mark.expiry_seen
        {
            assert_ne!(decision.action, Action::Delete, "{}: snooze ignored", context());
            if decision.reason == ReasonCode::Snoozed {
                let dormant = Mark {
                    notices: 0,
                    expiry_seen: expiry,
                    times_snoozed: mark.times_snoozed + 1,
                    ..mark.clone()
                };
                assert_eq!(decision.mark, MarkChange::Write(dormant.clone()), "{}", context());
                assert!(plan.marks_to_write.contains(&dormant));
            }
        }
        if decision.reason == ReasonCode::Snoozed {
            let expiry = expected_expiry(stack, config).unwrap();
            assert!(expiry > now && mark.is_some_and(|m| expiry > m.expiry_seen), "{}", context());
        }
        if let MarkChange::Write(written) = &decision.mark {
            assert_eq!(written.stack_id, stack.id);
            if written.notices == 0 {
                // A cycle ended: only while the stack is not expired, and the count never drops.
                assert!(matches!(
                    decision.reason,
                    ReasonCode::Snoozed | ReasonCode::NotExpired | ReasonCode::BeyondMaxLifetime
                ));
                assert!(written.times_snoozed >= mark.map_or(0, |m| m.times_snoozed), "{}", context());
            }
            if written.notices == 1 {
                assert_eq!((written.first_notice, written.delete_after), (now, now.plus(config.grace)));
                assert!(written.times_snoozed >= mark.map_or(0, |m| m.times_snoozed), "{}", context());
            }
        }
        if matches!(decision.action, Action::Warn | Action::Delete) {
            let notified = match &decision.owner {
                Some(owner) => plan.owner_notices.get(owner).is_some_and(|names| names.contains(&stack.name)),
                None => plan.operator_notices.contains(&stack.name),
            };
            assert!(notified, "{}: {decision:#?} not notified", context());
        }
        if config.disabled {
            assert_eq!((decision.action, decision.reason), (Action::Skip, ReasonCode::ReaperDisabled));
        }
    }

    let deletions = plan.deletions().count();
    assert!(deletions <= config.max_deletions as usize, "{}: cap exceeded", context());
    assert_eq!(deletions, eligible.min(config.max_deletions as usize), "{}", context());
    let capped = plan.decisions.iter().any(|d| d.reason == ReasonCode::DeletionCapReached);
    assert_eq!(plan.deletion_cap_reached, capped, "{}", context());
    assert_eq!(capped, eligible > config.max_deletions as usize, "{}", context());
    if config.mode == Mode::Report {
        let counted = plan.marks_to_write.iter().find(|m| m.notices > 0 && m.mode != Mode::Report);
        assert!(
            counted.is_none(),
            "{}: a report-mode notice would count in enforce mode: {counted:?}",
            context()
        );
    }
    if config.mode == Mode::Report || config.disabled {
        assert_eq!(deletions, 0, "{}: deleted outside enforce mode", context());
    }
    if config.disabled {
        assert!(plan.marks_to_write.is_empty() && plan.marks_to_clear.is_empty());
    }
    let written: HashSet<&str> = plan.marks_to_write.iter().map(|m| m.stack_id.as_str()).collect();
    assert!(plan.marks_to_clear.iter().all(|id| !written.contains(id.as_str())), "{}", context());
}

#[test]
fn the_planner_never_breaks_a_safety_rule() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut reasons: BTreeMap<ReasonCode, usize> = BTreeMap::new();
    for case in 0..CASES {
        let config = random_config(&mut rng);
        let now = Timestamp::from_unix_seconds(1_700_000_000 + rng.below(400 * DAY).cast_signed());
        let lenient = rng.chance(40);
        let count = rng.below(16) as usize;
        let stacks: Vec<StackInfo> = (0..count).map(|i| random_stack(&mut rng, i, now, lenient)).collect();
        let mut marks = Vec::new();
        for stack in &stacks {
            if rng.chance(if lenient { 80 } else { 50 }) {
                marks.push(random_mark(&mut rng, Some(stack), &config, now, lenient));
            }
        }
        if rng.chance(10) {
            marks.push(random_mark(&mut rng, None, &config, now, false));
        }
        let circumstances = Circumstances { deleted_today: 0, recipients: random_recipients(&mut rng) };
        check_case(case, &stacks, &marks, &config, now, &circumstances);
        for decision in plan(&stacks, &marks, &config, now, &circumstances).decisions {
            *reasons.entry(decision.reason).or_insert(0) += 1;
        }
    }
    let rare: Vec<_> = ReasonCode::ALL.iter().filter(|r| reasons.get(r).copied().unwrap_or(0) < 20).collect();
    assert!(rare.is_empty(), "the generator seldom produced {rare:?}: {reasons:?}");
}

/// What one run planned for one stack, as the sequence check remembers it.
#[derive(Debug, Clone)]
struct Seen {
    at: Timestamp,
    mode: Mode,
    reason: ReasonCode,
    expiry: Option<Timestamp>,
    /// Whether the run's mark for the stack reached the table.
    mark_kept: bool,
    /// Whether the run planned a mark write for the stack.
    mark_planned: bool,
}

impl Seen {
    /// Whether the owner was told something that contradicts a coming deletion. The run writes a
    /// mark that cannot count (report mode's, a dormant one) before the notices and sends no
    /// notice about a stack whose such write failed.
    fn contradicts_deletion(&self) -> bool {
        let told = !self.mark_planned || self.mark_kept;
        match self.reason {
            ReasonCode::ModeReport | ReasonCode::Snoozed | ReasonCode::NotExpired => told,
            ReasonCode::FinalNotice | ReasonCode::ExpiredFirstNotice => self.mode == Mode::Report && told,
            _ => false,
        }
    }
}

/// Sequences of runs: times advance, the mode flips, owners snooze, and some mark writes fail
/// (as when a notice does not go out). A deletion must always follow, in enforce mode and with
/// the expiry unchanged, a first notice at least one grace period earlier and a final notice
/// after it, with nothing between them that told the owner otherwise (a report-mode notice, a
/// snooze, an expiry no longer past).
#[test]
fn over_sequences_of_runs_a_deletion_always_follows_both_enforce_notices() {
    let mut rng = Rng(0x0dd5_eed5_2026_1126);
    let mut deletions = 0;
    for case in 0..300 {
        let mut config = ReaperConfig {
            max_deletions: 1 + rng.below(3) as u32,
            max_deletions_per_day: 1 + rng.below(4) as u32,
            grace: Duration::from_secs((12 + rng.below(4 * 24)) * HOUR),
            ..ReaperConfig::default()
        };
        let mut deleted_per_day: HashMap<String, u32> = HashMap::new();
        let mut now = Timestamp::from_unix_seconds(1_750_000_000);
        let mut stacks: Vec<StackInfo> = (0..=(rng.below(6) as usize))
            .map(|i| {
                let mut stack = any_stack(&mut rng, i, now);
                stack.name = format!("pr-{i}");
                stack.status = "UPDATE_COMPLETE".into();
                stack.parent_id = None;
                stack.termination_protection = Some(false);
                stack.exports_in_use = false;
                stack.resources = Some(Vec::new());
                stack.created = Some(now.minus(Duration::from_secs(rng.below(20 * DAY))));
                for (key, value) in [(TEMPORARY_TAG, "true"), (OWNER_TAG, "dev@example.com")] {
                    stack.tags.insert(key.into(), value.into());
                }
                stack.tags.insert(TTL_TAG.into(), format!("{}h", 1 + rng.below(10 * 24)));
                stack.tags.remove(EXPIRES_AT_TAG);
                stack
            })
            .collect();
        let mut marks: Vec<Mark> = Vec::new();
        let mut history: HashMap<String, Vec<Seen>> = HashMap::new();
        for _run in 0..16 {
            now = now.plus(Duration::from_secs(HOUR + rng.below(3 * DAY)));
            if rng.chance(15) {
                config.mode = if config.mode == Mode::Report { Mode::Enforce } else { Mode::Report };
            }
            for stack in &mut stacks {
                if rng.chance(8) {
                    let later =
                        now.plus(Duration::from_secs(rng.below(6 * DAY))).minus(Duration::from_secs(DAY));
                    stack.tags.insert(EXPIRES_AT_TAG.into(), later.to_string());
                }
            }
            let today = deleted_per_day.entry(now.utc_day()).or_insert(0);
            let circumstances = Circumstances { deleted_today: *today, ..Circumstances::default() };
            let plan = plan(&stacks, &marks, &config, now, &circumstances);
            *today += u32::try_from(plan.deletions().count()).expect("a handful");
            assert!(
                *today <= config.max_deletions_per_day,
                "case {case}: {today} deletions on {} over the daily budget {}",
                now.utc_day(),
                config.max_deletions_per_day
            );
            for (stack, decision) in stacks.iter().zip(&plan.decisions) {
                let seen = history.entry(stack.id.clone()).or_default();
                if decision.action == Action::Delete {
                    deletions += 1;
                    let context = || format!("case {case}, {} at {now}: {seen:#?}", stack.name);
                    let first = seen
                        .iter()
                        .rposition(|s| s.reason == ReasonCode::ExpiredFirstNotice && s.mark_kept)
                        .unwrap_or_else(|| panic!("deleted without a first notice: {}", context()));
                    let cycle = &seen[first..];
                    assert_eq!(cycle[0].mode, Mode::Enforce, "{}", context());
                    assert!(cycle[0].at.plus(config.grace) <= now, "grace cut short: {}", context());
                    assert!(
                        cycle.iter().any(|s| s.reason == ReasonCode::FinalNotice
                            && s.mode == Mode::Enforce
                            && s.mark_kept),
                        "no final notice: {}",
                        context()
                    );
                    let contrary = cycle.iter().find(|s| s.contradicts_deletion());
                    assert!(
                        contrary.is_none(),
                        "told otherwise during the cycle: {contrary:?}, {}",
                        context()
                    );
                    assert!(cycle.iter().all(|s| s.expiry == decision.expiry), "expiry moved: {}", context());
                }
                // Some writes fail, as when the owner's notice did not go out.
                let planned = matches!(decision.mark, MarkChange::Write(_));
                let kept = planned && !rng.chance(10);
                seen.push(Seen {
                    at: now,
                    mode: config.mode,
                    reason: decision.reason,
                    expiry: decision.expiry,
                    mark_kept: kept,
                    mark_planned: planned,
                });
                match &decision.mark {
                    MarkChange::Write(mark) if kept => {
                        marks.retain(|m| m.stack_id != mark.stack_id);
                        marks.push(mark.clone());
                    }
                    MarkChange::Clear => marks.retain(|m| m.stack_id != stack.id),
                    _ => {}
                }
            }
            let deleted: HashSet<String> = plan.deletions().map(|d| d.stack_id.clone()).collect();
            stacks.retain(|s| !deleted.contains(&s.id));
            marks.retain(|m| !deleted.contains(&m.stack_id));
        }
    }
    assert!(deletions > 50, "the sequences seldom reached a deletion ({deletions})");
}
