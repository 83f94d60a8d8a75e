//! Every static SQL statement of storage/ is prepared against a freshly migrated database, so
//! a statement the schema no longer accepts fails here rather than at run time. The
//! statements are found in the sources (the string literal given to `query`, `execute`,
//! `prepare`, ... or to a `format!` there), so a new statement needs no list kept here. The
//! other crates are scanned too: SQL text outside storage/ and the worker's writer fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imports_tests::TestEnv;

/// The calls whose first argument is SQL text.
const SQL_CALLS: [&str; 8] = [
    ".query(",
    ".query_once(",
    ".simple_query(",
    ".query_one(",
    ".query_opt(",
    ".execute(",
    ".prepare(",
    ".batch_execute(",
];

/// One statement found in a source file.
#[derive(Debug)]
struct Found {
    file: PathBuf,
    line: usize,
    sql: Option<String>,
    /// Whether the SQL text is written at the call (a literal or a `format!`), rather than
    /// passed in a variable.
    written: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Reads the Rust string literal that starts at `text[0] == '"'`, returning its value and
/// the bytes it took.
fn literal(text: &str) -> Option<(String, usize)> {
    let mut chars = text.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                '"' => value.push('"'),
                '\\' => value.push('\\'),
                '\n' => {
                    // A line continuation: the newline and the next line's indent go.
                    let rest = &text[i + 2..];
                    let skip = rest.len() - rest.trim_start().len();
                    for _ in 0..rest[..skip].chars().count() {
                        chars.next();
                    }
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// The `const NAME: &str = "...";` strings of a file, to fill `{NAME}` in its `format!`s.
fn string_consts(text: &str) -> BTreeMap<String, String> {
    let mut consts = BTreeMap::new();
    for (at, _) in text.match_indices("const ") {
        let rest = &text[at + 6..];
        let Some(colon) = rest.find(':') else {
            continue;
        };
        let name = rest[..colon].trim();
        let after = rest[colon + 1..].trim_start();
        let Some(value) = after.strip_prefix("&str =") else {
            continue;
        };
        if let Some((v, _)) = literal(value.trim_start()) {
            consts.insert(name.to_string(), v);
        }
    }
    consts
}

/// Fills `{NAME}` placeholders from `consts`; `None` when one is not a known constant (the
/// statement is built at run time).
fn fill(format: &str, consts: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        out.push_str(consts.get(&rest[open + 1..close])?);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The SQL given to each call of `file`: `Some(text)` for a static statement, `None` for
/// one built at run time (a variable, or a `format!` of run-time values).
fn statements_of(file: &Path) -> Vec<Found> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut consts = string_consts(&text);
    // The SELECT list of imports is written from the attribute table, not a literal.
    consts.insert(
        "IMPORT_COLUMNS".to_string(),
        imports_storage::imports::IMPORT_COLUMNS.to_string(),
    );
    let mut found = Vec::new();
    for call in SQL_CALLS {
        for (at, _) in text.match_indices(call) {
            let line = text[..at].matches('\n').count() + 1;
            let arg = text[at + call.len()..].trim_start().trim_start_matches('&');
            let format = arg.strip_prefix("format!(");
            let sql = if arg.starts_with('"') {
                literal(arg).map(|(v, _)| v)
            } else if let Some(f) = format {
                literal(f.trim_start()).and_then(|(v, _)| fill(&v, &consts))
            } else {
                None
            };
            found.push(Found {
                file: file.to_path_buf(),
                line,
                sql,
                written: arg.starts_with('"') || format.is_some(),
            });
        }
    }
    found
}

fn storage_statements() -> Vec<Found> {
    let mut files = Vec::new();
    rust_files(&root().join("storage/src"), &mut files);
    files.iter().flat_map(|f| statements_of(f)).collect()
}

#[test]
fn the_scan_reads_literals_and_fills_constants() {
    assert_eq!(
        literal(
            r#""SELECT 1 \
                   FROM x" tail"#
        ),
        Some(("SELECT 1 FROM x".to_string(), 38))
    );
    let consts = string_consts("const COLS: &str = \"a, b\";");
    assert_eq!(
        fill("SELECT {COLS} FROM t", &consts).as_deref(),
        Some("SELECT a, b FROM t")
    );
    assert_eq!(fill("SELECT {runtime} FROM t", &consts), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_static_statement_of_storage_prepares_against_the_schema() {
    let env = TestEnv::new().await;
    let client = env.pool.get().await.unwrap();
    let found = storage_statements();
    let mut failures = Vec::new();
    let mut prepared = 0;
    for f in &found {
        let Some(sql) = &f.sql else { continue };
        // A batch of statements (`SET LOCAL a; SET LOCAL b`) is prepared one by one.
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            match client.prepare(statement).await {
                Ok(_) => prepared += 1,
                Err(e) => failures.push(format!(
                    "{}:{}: {statement}\n  {}",
                    f.file.display(),
                    f.line,
                    imports_runtime::telemetry::traces::error_chain(&e)
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The scan found the statements it should (a broken scan would pass vacuously).
    assert!(prepared >= 46, "only {prepared} statements found");
    let dynamic: Vec<String> = found
        .iter()
        .filter(|f| f.sql.is_none())
        .map(|f| format!("{}:{}", f.file.display(), f.line))
        .collect();
    // Statements built at run time are few and each is exercised end to end elsewhere (the
    // list page counts twice: once kept on the connection, once run uncached).
    eprintln!("{prepared} statements prepared; built at run time: {dynamic:?}");
    assert!(
        dynamic.len() <= 10,
        "statements built at run time: {dynamic:?}"
    );
}

/// The code that must hold no SQL text of its own: every statement is a function of
/// storage/, except the writer's, which builds its set-based statements per resource type.
const WITHOUT_SQL: [&str; 5] = [
    "api/src",
    "runtime/src",
    "common/src",
    "cli/src",
    "worker/src",
];

/// Where the worker builds the SQL text of the statements that write a batch.
const WRITER: &str = "worker/src/writer";

/// How a string literal holding a statement starts (upper case, as every statement here is
/// written), to catch SQL kept in a constant and passed by name.
const STATEMENT_STARTS: [&str; 5] = [
    "\"SELECT ",
    "\"INSERT INTO ",
    "\"UPDATE ",
    "\"DELETE FROM ",
    "\"WITH ",
];

#[test]
fn no_sql_text_outside_storage_and_the_writer() {
    let mut files = Vec::new();
    for dir in WITHOUT_SQL {
        rust_files(&root().join(dir), &mut files);
    }
    let writer = root().join(WRITER);
    let mut offenders: Vec<String> = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&writer)) {
        let at = |f: &Found| format!("{}:{}", f.file.display(), f.line);
        offenders.extend(statements_of(file).iter().filter(|f| f.written).map(at));
        let text = std::fs::read_to_string(file).unwrap();
        for start in STATEMENT_STARTS {
            for (i, _) in text.match_indices(start) {
                let line = text[..i].matches('\n').count() + 1;
                offenders.push(format!("{}:{line}", file.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "SQL text outside storage/ (make it a storage function): {offenders:?}"
    );
    // The scan sees calls where they are: the writer runs the statements it builds.
    let mut writer_files = Vec::new();
    rust_files(&writer, &mut writer_files);
    assert!(writer_files.iter().any(|f| !statements_of(f).is_empty()));
}
