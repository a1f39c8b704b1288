//! A small shell-words tokenizer for installer lines and install scripts (SPEC §8.3 stage 5, chosen):
//! quotes, backslash escapes, line continuations, comments and the command separators `&&`, `||`, `;`,
//! `|`, `&`, newlines and parentheses. It is deliberately not a shell parser (that is `scan::shell`, written
//! separately); stage 5 only needs each simple command's words and whether it feeds a pipe.

/// At most this many commands are read from one text (bounded work).
const MAX_COMMANDS: usize = 2_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The word after quote removal; `$(…)`, backticks and `$VAR` stay as written.
    pub text: String,
    /// The word holds an expansion (`$`, backtick) outside single quotes.
    pub dynamic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// 1-based line of the first word within the text.
    pub line: u32,
    pub words: Vec<Word>,
    /// This command's output goes into the next command through `|`.
    pub piped: bool,
}

impl Command {
    pub fn argv(&self) -> Vec<&str> {
        self.words.iter().map(|w| w.text.as_str()).collect()
    }
}

/// Splits shell text into simple commands.
pub fn split(text: &str) -> Vec<Command> {
    let mut out: Vec<Command> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut dynamic = false;
    let mut line: u32 = 1;
    let mut cmd_line: u32 = 1;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;

    macro_rules! end_word {
        () => {
            if in_word {
                words.push(Word {
                    text: std::mem::take(&mut cur),
                    dynamic,
                });
                in_word = false;
                dynamic = false;
            }
        };
    }
    macro_rules! end_cmd {
        ($piped:expr) => {
            end_word!();
            if !words.is_empty() {
                out.push(Command {
                    line: cmd_line,
                    words: std::mem::take(&mut words),
                    piped: $piped,
                });
                if out.len() >= MAX_COMMANDS {
                    return out;
                }
            }
        };
    }
    macro_rules! start_word {
        () => {
            if !in_word {
                if words.is_empty() {
                    cmd_line = line;
                }
                in_word = true;
            }
        };
    }

    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' if next == Some('\n') => {
                // Line continuation.
                line += 1;
                i += 2;
                continue;
            }
            '\\' if next == Some('\r') && chars.get(i + 2) == Some(&'\n') => {
                line += 1;
                i += 3;
                continue;
            }
            '\\' => {
                start_word!();
                if let Some(n) = next {
                    if n == '\n' {
                        line += 1;
                    }
                    cur.push(n);
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            '\'' => {
                start_word!();
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    cur.push(chars[i]);
                    i += 1;
                }
                i += 1;
                continue;
            }
            '"' => {
                start_word!();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    let ch = chars[i];
                    if ch == '\\'
                        && let Some(n) = chars.get(i + 1).copied()
                        && matches!(n, '"' | '\\' | '$' | '`' | '\n')
                    {
                        if n != '\n' {
                            cur.push(n);
                        } else {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if ch == '$' || ch == '`' {
                        dynamic = true;
                    }
                    if ch == '\n' {
                        line += 1;
                    }
                    cur.push(ch);
                    i += 1;
                }
                i += 1;
                continue;
            }
            '$' if next == Some('(') => {
                // Command substitution: keep it inside the word, balanced.
                start_word!();
                dynamic = true;
                let mut depth = 0i32;
                while i < chars.len() {
                    let ch = chars[i];
                    if ch == '(' {
                        depth += 1;
                    } else if ch == ')' {
                        depth -= 1;
                    } else if ch == '\n' {
                        line += 1;
                    }
                    cur.push(ch);
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                continue;
            }
            '`' => {
                start_word!();
                dynamic = true;
                cur.push(c);
                i += 1;
                while i < chars.len() && chars[i] != '`' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    cur.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    cur.push('`');
                }
                i += 1;
                continue;
            }
            '$' => {
                start_word!();
                dynamic = true;
                cur.push(c);
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\n' => {
                end_cmd!(false);
                line += 1;
            }
            ' ' | '\t' | '\r' => {
                end_word!();
            }
            ';' | '(' | ')' => {
                end_cmd!(false);
            }
            '&' => {
                if next == Some('>') {
                    // `&>file` redirection: part of the current command.
                    end_word!();
                } else {
                    end_cmd!(false);
                    if next == Some('&') {
                        i += 1;
                    }
                }
            }
            '|' => {
                if next == Some('|') {
                    end_cmd!(false);
                    i += 1;
                } else {
                    end_cmd!(true);
                    if next == Some('&') {
                        i += 1;
                    }
                }
            }
            '<' if next == Some('(') => {
                // Process substitution `<(cmd)`: one dynamic word, like `$(…)`.
                start_word!();
                dynamic = true;
                let mut depth = 0i32;
                cur.push('<');
                i += 1;
                while i < chars.len() {
                    let ch = chars[i];
                    if ch == '(' {
                        depth += 1;
                    } else if ch == ')' {
                        depth -= 1;
                    }
                    cur.push(ch);
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                continue;
            }
            _ => {
                start_word!();
                cur.push(c);
            }
        }
        i += 1;
    }
    if in_word {
        words.push(Word { text: cur, dynamic });
    }
    if !words.is_empty() {
        out.push(Command {
            line: cmd_line,
            words,
            piped: false,
        });
    }
    out
}

/// The program name of a word: the last path segment, lower-cased, without `.exe`.
pub fn program(word: &str) -> String {
    let p = word
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(word)
        .to_lowercase();
    p.strip_suffix(".exe").map(String::from).unwrap_or(p)
}

/// Strips wrappers that do not change what runs: `VAR=value` assignments, `sudo` (and its options),
/// `env` (and `VAR=…`, options), `command`, `exec`, `nohup`, `time` (SPEC §8.2 stdin interpreter list).
/// Returns the index of the real program word.
pub fn strip_wrappers(argv: &[&str]) -> usize {
    let mut i = 0;
    while i < argv.len() {
        let w = argv[i];
        if is_assignment(w) {
            i += 1;
            continue;
        }
        match program(w).as_str() {
            "sudo" | "doas" => {
                i += 1;
                while i < argv.len() && argv[i].starts_with('-') {
                    // Options that take a value.
                    if matches!(
                        argv[i],
                        "-u" | "-g" | "-h" | "-p" | "-C" | "-U" | "-r" | "-t"
                    ) {
                        i += 1;
                    }
                    i += 1;
                }
            }
            "env" => {
                i += 1;
                while i < argv.len() && (argv[i].starts_with('-') || is_assignment(argv[i])) {
                    if matches!(argv[i], "-u" | "-C" | "-S") {
                        i += 1;
                    }
                    i += 1;
                }
            }
            "command" | "exec" | "nohup" | "time" | "builtin" => i += 1,
            _ => return i,
        }
    }
    i
}

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((k, _)) => {
            !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}
