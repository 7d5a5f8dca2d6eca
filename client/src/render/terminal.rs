//! Text from the daemon and the workflow made safe to print on a terminal.
//!
//! Log lines, reasons and cluster messages come from workflows and pods; printed raw, an
//! escape sequence among them would reach the user's terminal, where it can recolour, clear
//! or retitle the window, or fake lines of output. JSON output needs none of this, since
//! serde_json escapes control characters itself.

use std::borrow::Cow;

/// `text` with every control character but tab shown as an escape, such as `\u{1b}` for ESC
/// or `\n` for a line break inside one line.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// C0 and C1 controls and DEL (a tab only moves the cursor to the next column stop), and the
/// bidirectional formatting characters, which reorder what follows them on the line so that
/// it reads other than it is.
fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\t') || is_bidi_control(c)
}

/// The embeddings, overrides and isolates of Unicode's bidirectional algorithm, and the
/// implicit direction marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_instead_of_obeyed() {
        let text = "\u{1b}[2J\u{1b}]0;owned\u{7}red\u{9b}31m";
        assert_eq!(
            visible(text),
            "\\u{1b}[2J\\u{1b}]0;owned\\u{7}red\\u{9b}31m"
        );
    }

    #[test]
    fn line_breaks_inside_one_line_are_shown() {
        assert_eq!(visible("one\ntwo\rthree"), "one\\ntwo\\rthree");
    }

    #[test]
    fn bidirectional_overrides_are_shown_instead_of_reordering_the_line() {
        assert_eq!(
            visible("name \u{202e}txt.exe\u{2066}x\u{200f}"),
            "name \\u{202e}txt.exe\\u{2066}x\\u{200f}"
        );
    }

    #[test]
    fn tabs_and_ordinary_text_pass_unchanged() {
        assert!(matches!(
            visible("a\tb ünïcode"),
            Cow::Borrowed("a\tb ünïcode")
        ));
    }
}
