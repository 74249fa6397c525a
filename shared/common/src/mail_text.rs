//! Text fit for lifeguard's mail (the reaper's notices and digest, the hooks' verdicts): foreign
//! text shown so that it cannot pass for lifeguard's own words, and messages and subjects that
//! SNS takes.
//!
//! # Foreign text
//!
//! Whoever can deploy a stack writes its tags (any text up to 256 characters), and errors quote
//! what AWS or a template said; a hook's verdict quotes the guarded function's answers. In mail
//! that looks official, such text could pose as an instruction ("URGENT: log in at ..."). So
//! every piece of text lifeguard did not write itself from validated data (every detail of a decision, every problem and error, an owner address
//! that is not plain) goes through [`foreign`], one rule for notices and digest alike:
//!
//! 1. **One line, nothing hidden.** A character that is not visible, or that moves or hides
//!    others, is written as an escape: control characters (`\n`, `\r`, `\t`, `\u{7}`, NEL),
//!    every whitespace but the plain space (line and paragraph separators, no-break spaces),
//!    bidirectional controls (`\u{202e}`), zero-width and other invisible format characters, and
//!    the invisible tag characters. A value therefore cannot start a line of its own that reads
//!    like the reaper's, reorder what is shown, or carry text nobody sees. Backslashes stay as
//!    they are: AWS allows none in a tag value, and tag values are already quoted with escapes
//!    where they enter a detail (the reaper's tag errors).
//! 2. **No link.** `://` becomes `[:]//`, and a dot directly followed by two letters or digits
//!    becomes `[.]` (the ideographic and full-width dots too, which browsers read as dots): that
//!    is the dot before every top-level domain. Mail clients make links of `https://...`, but
//!    also of `www.example.com`, `example.com/login` and `someone@example.com`, and a tag value
//!    may hold all of these (AWS allows letters, digits, spaces and `_ . : / = + - @`). A
//!    clickable link in mail from the reaper is exactly what a phishing attempt needs, while the
//!    reader gains nothing from clicking: they learn what the tag says from the defanged text,
//!    and an operator who wants to visit it restores it on purpose. Sentence ends, `e.g.` and
//!    `1.5` stay; `v1[.]25` is the price.
//! 3. **Short.** At most [`MAX_FOREIGN_CHARS`] characters as shown (escapes and brackets
//!    count), the last one `…` when cut; cut between two characters and never inside an escape.
//!    160 holds the reaper's longest wording around a tag value (quoted and cut to 48 characters
//!    by the reaper's tag errors) with the parsing problem, so an owner still learns what is
//!    wrong, but no paragraph of someone else's prose; the function's JSON report keeps all.
//!
//! Other characters, non-ASCII included (accents, other scripts, emoji), are kept as they are:
//! people tag in their own language, and a look-alike letter can do no more than the ASCII one
//! once the text is on one line, quoted or in parentheses, and without a link.
//!
//! # What SNS takes
//!
//! `Publish` takes a message of at most 256 KiB (262,144 bytes) of UTF-8, message attributes
//! included: [`within_sns_size`] cuts a built message to [`MAX_SNS_MESSAGE_BYTES`] at a
//! character boundary and closes it with a line saying so. Its subject must be ASCII text that
//! begins with a letter, digit or punctuation, without line breaks or control characters, and
//! less than 100 characters long: [`sns_subject`] makes any text such a subject.

use std::borrow::Cow;
use std::ops::RangeInclusive;

/// The most characters one piece of foreign text shows in mail, a closing `…` included.
pub const MAX_FOREIGN_CHARS: usize = 160;
/// The most bytes a published message holds: SNS's 256 KiB, less 1 KiB for the subject and the
/// `owner` message attribute, which count towards it.
pub const MAX_SNS_MESSAGE_BYTES: usize = 256 * 1024 - 1024;
/// The longest subject: SNS wants "less than 100 characters".
pub const MAX_SNS_SUBJECT_CHARS: usize = 99;
/// The last line of a message cut to [`MAX_SNS_MESSAGE_BYTES`].
pub const CUT_NOTE: &str =
    "\n[message cut here: longer than the 256 KiB SNS takes; the function's JSON report has everything]\n";
/// The subject of a message whose subject had nothing SNS takes.
const FALLBACK_SUBJECT: &str = "lifeguard";

/// Invisible characters that are neither control characters nor whitespace: format characters
/// (bidirectional controls, zero-width characters, invisible operators), fillers that show as
/// nothing, and the tag and variation selectors of plane 14. The variation selectors of the
/// basic plane stay: emoji use them.
const INVISIBLE: [RangeInclusive<char>; 17] = [
    '\u{AD}'..='\u{AD}',       // soft hyphen
    '\u{34F}'..='\u{34F}',     // combining grapheme joiner
    '\u{61C}'..='\u{61C}',     // Arabic letter mark
    '\u{115F}'..='\u{1160}',   // Hangul fillers
    '\u{17B4}'..='\u{17B5}',   // Khmer inherent vowels
    '\u{180B}'..='\u{180F}',   // Mongolian free variation selectors, vowel separator
    '\u{200B}'..='\u{200F}',   // zero-width space, (non-)joiner, left-to-right and right-to-left marks
    '\u{202A}'..='\u{202E}',   // bidirectional embeddings and overrides
    '\u{2060}'..='\u{206F}',   // word joiner, invisible operators, bidirectional isolates
    '\u{3164}'..='\u{3164}',   // Hangul filler
    '\u{FEFF}'..='\u{FEFF}',   // zero-width no-break space
    '\u{FFA0}'..='\u{FFA0}',   // half-width Hangul filler
    '\u{FFF9}'..='\u{FFFB}',   // interlinear annotation controls
    '\u{110BD}'..='\u{110BD}', // Kaithi number sign
    '\u{1BCA0}'..='\u{1BCA3}', // shorthand format controls
    '\u{1D173}'..='\u{1D17A}', // musical symbol format controls
    '\u{E0000}'..='\u{E0FFF}', // tag characters, variation selectors supplement
];

/// Dots a browser reads as the dot between two labels of a host name.
const DOTS: [char; 4] = ['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'];

/// Whether `c` is written as an escape: not visible, or moving or hiding other characters.
fn escaped(c: char) -> bool {
    (c != ' ' && (c.is_control() || c.is_whitespace())) || INVISIBLE.iter().any(|range| range.contains(&c))
}

/// `text`, from outside the reaper, as mail shows it: on one line with nothing hidden, no link,
/// at most [`MAX_FOREIGN_CHARS`] characters (the module documentation has the rule and why).
pub fn foreign(text: &str) -> String {
    // Every character shows as at least one, so this many are enough to fill the limit and to
    // look two characters ahead of the last one shown.
    let chars: Vec<char> = text.chars().take(MAX_FOREIGN_CHARS + 3).collect();
    let mut shown = String::new();
    let mut count = 0;
    // Bytes of `shown` that leave room for the closing `…`.
    let mut room_for_ellipsis = 0;
    let mut unit = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next = |n: usize| chars.get(i + n).copied();
        let alphanumeric = |n: usize| next(n).is_some_and(char::is_alphanumeric);
        unit.clear();
        if escaped(c) {
            match c {
                '\n' => unit.push_str("\\n"),
                '\r' => unit.push_str("\\r"),
                '\t' => unit.push_str("\\t"),
                _ => unit.extend(c.escape_unicode()),
            }
        } else if c == ':' && next(1) == Some('/') && next(2) == Some('/') {
            unit.push_str("[:]");
        } else if DOTS.contains(&c) && alphanumeric(1) && alphanumeric(2) {
            unit.push_str("[.]");
        } else {
            unit.push(c);
        }
        let unit_chars = unit.chars().count();
        if count + unit_chars > MAX_FOREIGN_CHARS {
            shown.truncate(room_for_ellipsis);
            shown.push('…');
            return shown;
        }
        shown.push_str(&unit);
        count += unit_chars;
        if count < MAX_FOREIGN_CHARS {
            room_for_ellipsis = shown.len();
        }
    }
    shown
}

/// An owner address as the digest shows it: as it is when plain (ASCII letters, digits and
/// `. _ % + - @`), else as [`foreign`] text. The reaper's address check lets through addresses
/// such as `https://evil.example/x@example.com`, which would otherwise reach mail as a link.
pub fn owner(address: &str) -> Cow<'_, str> {
    let plain = address.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-@".contains(c));
    if plain { Cow::Borrowed(address) } else { Cow::Owned(foreign(address)) }
}

/// `text` cut to [`MAX_SNS_MESSAGE_BYTES`] at a character boundary, then ending with
/// [`CUT_NOTE`]; unchanged when it fits.
pub fn within_sns_size(text: String) -> String {
    if text.len() <= MAX_SNS_MESSAGE_BYTES {
        return text;
    }
    let mut end = MAX_SNS_MESSAGE_BYTES - CUT_NOTE.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text;
    cut.truncate(end);
    cut.push_str(CUT_NOTE);
    cut
}

/// `subject` as SNS takes it, whatever it holds: each character other than printable ASCII as
/// `?`, no leading blank, at most [`MAX_SNS_SUBJECT_CHARS`] characters (ending `...` when cut),
/// and never empty.
pub fn sns_subject(subject: &str) -> String {
    let printable: String =
        subject.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect();
    let mut subject = match printable.trim_start() {
        "" => FALLBACK_SUBJECT.to_owned(),
        text => text.to_owned(),
    };
    // Printable ASCII only: every character is one byte.
    if subject.len() > MAX_SNS_SUBJECT_CHARS {
        subject.truncate(MAX_SNS_SUBJECT_CHARS - 3);
        subject.push_str("...");
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `text` is one line of visible characters and plain spaces.
    fn one_visible_line(text: &str) -> bool {
        !text.chars().any(escaped)
    }

    #[test]
    fn foreign_text_stays_on_one_line() {
        let hostile =
            "2026-01-01\nURGENT: reply now\r\n\tor else\u{7}\u{85}next\u{2028}line\u{2029}\u{a0}end";
        let shown = foreign(hostile);
        assert_eq!(
            shown,
            "2026-01-01\\nURGENT: reply now\\r\\n\\tor else\\u{7}\\u{85}next\\u{2028}line\\u{2029}\\u{a0}end"
        );
        assert!(one_visible_line(&shown), "{shown}");
        assert_eq!(shown.lines().count(), 1);
    }

    #[test]
    fn foreign_text_hides_nothing_and_reorders_nothing() {
        // A right-to-left override that would show "moc.live" backwards, a zero-width space that
        // would split "https://" from view, and text in invisible tag characters.
        let hostile =
            "pay \u{202e}moc.live\u{202c} https:/\u{200b}/x \u{e0041}\u{e0042} \u{feff}\u{2066}ok\u{2069}";
        let shown = foreign(hostile);
        assert_eq!(
            shown,
            "pay \\u{202e}moc[.]live\\u{202c} https:/\\u{200b}/x \\u{e0041}\\u{e0042} \\u{feff}\\u{2066}ok\\u{2069}"
        );
        assert!(one_visible_line(&shown), "{shown}");
    }

    #[test]
    fn foreign_text_makes_no_link() {
        let hostile = "renew at https://evil.example/login, www.evil.example or help@evil.example。com. Done";
        let shown = foreign(hostile);
        assert_eq!(
            shown,
            "renew at https[:]//evil[.]example/login, www[.]evil[.]example or help@evil[.]example[.]com. Done"
        );
        assert!(!shown.contains("://") && !shown.contains("www.") && !shown.contains("evil.example"));
        assert_eq!(foreign("ftp://host and mailto:x"), "ftp[:]//host and mailto:x");
        assert_eq!(foreign("e.g. version 1.5, not v1.25. Next"), "e.g. version 1.5, not v1[.]25. Next");
        assert_eq!(foreign("a.b.co and x.y"), "a.b[.]co and x.y");
    }

    #[test]
    fn foreign_text_keeps_what_is_printable_non_ascii_included() {
        let text = "Équipe données Ж 東京 🦀❤\u{fe0f} - fine";
        assert_eq!(foreign(text), text);
        assert_eq!(foreign(""), "");
    }

    #[test]
    fn foreign_text_is_cut_between_characters_with_an_ellipsis() {
        let exact = "x".repeat(MAX_FOREIGN_CHARS);
        assert_eq!(foreign(&exact), exact, "what fits is not cut");
        let long = "y".repeat(10 * MAX_FOREIGN_CHARS);
        let shown = foreign(&long);
        assert_eq!(shown.chars().count(), MAX_FOREIGN_CHARS);
        assert_eq!(shown, "y".repeat(MAX_FOREIGN_CHARS - 1) + "…");
        // Four-byte emoji across the cut: whole emoji, then the ellipsis.
        let emoji = "a".repeat(MAX_FOREIGN_CHARS - 2) + &"🦀".repeat(5);
        let shown = foreign(&emoji);
        assert_eq!(shown, "a".repeat(MAX_FOREIGN_CHARS - 2) + "🦀…");
        // An escape that no longer fits is left out whole, not cut in two.
        let escape = "b".repeat(MAX_FOREIGN_CHARS - 4) + "\u{202e}" + "more";
        assert_eq!(foreign(&escape), "b".repeat(MAX_FOREIGN_CHARS - 4) + "…");
        // So is a defanged dot.
        let dot = "c".repeat(MAX_FOREIGN_CHARS - 2) + ".example";
        assert_eq!(foreign(&dot), "c".repeat(MAX_FOREIGN_CHARS - 2) + "…");
        // Escapes and brackets count: 400 line breaks show as 159 characters of escapes at most.
        let breaks = foreign(&"\n".repeat(400));
        assert_eq!(breaks, "\\n".repeat((MAX_FOREIGN_CHARS - 1) / 2) + "…");
        assert!(breaks.chars().count() <= MAX_FOREIGN_CHARS);
    }

    #[test]
    fn a_plain_owner_address_shows_as_it_is_any_other_as_foreign_text() {
        assert_eq!(owner("first.last+tag@sub.example.co.uk"), "first.last+tag@sub.example.co.uk");
        assert_eq!(
            owner("https://evil.example/login@example.com"),
            "https[:]//evil[.]example/login@example[.]com"
        );
    }

    #[test]
    fn messages_are_cut_to_what_sns_takes_at_a_character_boundary() {
        const { assert!(MAX_SNS_MESSAGE_BYTES <= 262_144) };
        // Four-byte characters, so the cut falls inside one unless it is moved back.
        for text in ["🦀".repeat(MAX_SNS_MESSAGE_BYTES / 4 + 10) + "x", "é".repeat(MAX_SNS_MESSAGE_BYTES)]
        {
            let cut = within_sns_size(text.clone());
            assert!(cut.len() <= MAX_SNS_MESSAGE_BYTES, "{}", cut.len());
            assert!(std::str::from_utf8(cut.as_bytes()).is_ok());
            assert!(cut.ends_with(CUT_NOTE), "the cut says so");
            let kept = cut.strip_suffix(CUT_NOTE).unwrap();
            assert!(text.starts_with(kept), "the start is kept as it was");
            assert!(kept.len() + CUT_NOTE.len() > MAX_SNS_MESSAGE_BYTES - 4, "no more is cut than needed");
        }
        let fits = "z".repeat(MAX_SNS_MESSAGE_BYTES);
        assert_eq!(within_sns_size(fits.clone()), fits);
        assert_eq!(within_sns_size("short".into()), "short");
    }

    #[test]
    fn any_subject_becomes_one_sns_takes() {
        let sns_takes = |subject: &str| {
            subject.chars().count() <= MAX_SNS_SUBJECT_CHARS
                && subject.chars().all(|c| c == ' ' || c.is_ascii_graphic())
                && subject.starts_with(|c: char| c.is_ascii_graphic())
        };
        let hostile = " \tlifeguard digest: 3 stacks\r\n(enforce) — ünïcode 🦀";
        assert_eq!(sns_subject(hostile), "?lifeguard digest: 3 stacks??(enforce) ? ?n?code ?");
        let long = sns_subject(&"s".repeat(300));
        assert_eq!(long, "s".repeat(MAX_SNS_SUBJECT_CHARS - 3) + "...");
        for subject in [hostile.to_owned(), long, sns_subject(""), sns_subject("   "), sns_subject("ok")] {
            assert!(sns_takes(&sns_subject(&subject)), "{subject:?}");
        }
        assert_eq!(sns_subject("   "), FALLBACK_SUBJECT);
        assert_eq!(sns_subject("lifeguard: 2 temporary stacks"), "lifeguard: 2 temporary stacks");
    }
}
