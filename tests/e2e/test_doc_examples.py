#!/usr/bin/env python3
"""The REST examples of README.md and docs/API.md, run as written against
a real `hakgal serve` on the sample knowledge base (data/sample.hkl), and
README.md's command-line session.

Every `curl` command in a ```sh block of the two files that talks to `$B`
is run with bash, in document order (README.md first), on one server, so
that an example may rely on the ones before it, as a reader following the
page would. What each one is checked against:

- the HTTP status: the number in a trailing comment of the command
  (`curl ... # 201`), else 200;
- the answer's shape, where the page shows one: a comment line right after
  the command that holds a JSON object (`# {"valid":true, ...}`), or a
  ```json block that follows the ```sh block with nothing but blank lines
  between them (it shows the answer of that block's first command). Every
  key shown must be present, recursively; a value shown as something other
  than null must have the same JSON type; a list shown with N items must
  have at least N. `{...}` and `...` in a shown answer stand for the parts
  left out;
- the shell's exit code (0), so that `| promtool check metrics` and the
  like fail the test when they fail.

The environment of every command: B (the server's base URL), CURSOR (the
`next_cursor` of the last answer that had one), ADMIN and TOKEN (empty:
the server has no tokens, so every request is allowed). The working
directory is a scratch directory; a destination under /var/backups is
moved into it. A command that needs a tool this machine lacks (jq,
promtool) is skipped and named.

The command-line session (the ```sh block of README.md whose lines start
with `$ `) runs line by line in a scratch directory holding data/, with
the binary under test first on PATH. Each command's standard output and
error together must be the lines shown under it, in any order (a query's
cursor goes to standard error), once times, durations, rates, sizes,
cursors and SHA-256 digests are masked; a command whose shown output is
an error (`hakgal CMD: ...`) must fail, any other must succeed.

Standard library only; the binary is $HAKGAL_BIN.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, SRC, TMP, Server, run_tests  # noqa: E402

DOCS = ["README.md", os.path.join("docs", "API.md")]
# The fewest examples each page must yield: fewer means the extraction
# below no longer understands the page.
MIN_EXAMPLES = {"README.md": 8, os.path.join("docs", "API.md"): 30}
OPTIONAL_TOOLS = ("jq", "promtool")
FENCE = re.compile(r"^(\s*)```(\S*)(.*)$")


# ==== Extraction ====

def fenced_blocks(text):
    """[(info, first_line_no, [lines], blank_lines_only_before)] of the
    fenced blocks of a Markdown text; the lines without the fence's
    indentation. The last field says whether only blank lines separate
    the block from the previous one."""
    out = []
    lines = text.split("\n")
    i = 0
    since_prev = []
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            since_prev.append(lines[i])
            i += 1
            continue
        indent, lang = len(m.group(1)), m.group(2)
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == ""
                        else lines[i])
            i += 1
        adjacent = bool(out) and all(not s.strip() for s in since_prev)
        out.append((lang, start + 1, body, adjacent))
        since_prev = []
        i += 1
    return out


def split_commands(lines, first_line):
    """Shell text -> [{"text", "line", "status", "shown"}]: one entry per
    command, a command spanning lines joined by a trailing backslash, a
    trailing `|`, or a quoted string that goes on. `status` comes from the
    command's trailing comment, `shown` from a following comment line that
    holds a JSON object."""
    cmds = []
    cur, cur_line, trailing = "", 0, ""
    for n, line in enumerate(lines):
        stripped = line.strip()
        if not cur:
            if not stripped:
                continue
            if stripped.startswith("#"):
                note = stripped[1:].strip()
                if note.startswith("{") and cmds:
                    cmds[-1]["shown"] = note
                continue
            cur_line = first_line + n
        code, comment, open_quote = scan_line(cur, line)
        cur += code + "\n"
        if comment:
            trailing = comment
        body = code.rstrip()
        if open_quote or body.endswith("\\") or body.endswith("|") \
                or body.endswith("&&"):
            continue
        m = re.match(r"\s*(\d{3})\b", trailing)
        cmds.append({"text": cur, "line": cur_line,
                     "status": int(m.group(1)) if m else 200,
                     "shown": None})
        cur, trailing = "", ""
    if cur:
        raise AssertionError("line %d: unterminated shell command: %r" %
                             (cur_line, cur))
    return cmds


def scan_line(before, line):
    """(code, trailing comment, quote still open) of one more line of a
    command whose earlier text is `before` (bash quoting: '...' literal,
    "..." with backslash escapes, # starting a word outside quotes)."""
    quote = None
    for ch_i, ch in enumerate(before):
        if quote == "'" and ch == "'":
            quote = None
        elif quote == '"' and ch == '"' and not escaped(before, ch_i):
            quote = None
        elif quote is None and ch in "'\"" and not escaped(before, ch_i):
            quote = ch
    text = line
    for i, ch in enumerate(text):
        if quote == "'":
            if ch == "'":
                quote = None
        elif quote == '"':
            if ch == '"' and not escaped(text, i):
                quote = None
        elif ch in "'\"" and not escaped(text, i):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i], text[i + 1:].strip(), False
    return text, "", quote is not None


def escaped(s, i):
    n = 0
    while i - 1 - n >= 0 and s[i - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def lenient_json(text):
    """A JSON answer as a page shows it, with `{...}` and `...` standing
    for the parts left out."""
    t = re.sub(r"\{\s*\.\.\.[^{}\"]*\}", "{}", text)
    t = re.sub(r",\s*\.\.\.\s*(?=[\]}])", "", t)
    return json.loads(t)


def examples(path):
    """The runnable examples of one page, in order."""
    with open(os.path.join(SRC, path), encoding="utf-8") as f:
        text = f.read()
    out = []
    last_sh = None
    for lang, line, body, adjacent in fenced_blocks(text):
        if lang == "sh":
            cmds = [c for c in split_commands(body, line)
                    if re.search(r"\bcurl\b", c["text"]) and "$B" in c["text"]]
            out.extend(cmds)
            last_sh = cmds[0] if cmds else None
            continue
        if lang == "json" and adjacent and last_sh is not None:
            try:
                last_sh["shown_block"] = lenient_json("\n".join(body))
            except ValueError as e:
                raise AssertionError("%s:%d: the answer shown is not JSON: "
                                     "%s" % (path, line, e))
        last_sh = None
    for c in out:
        c["where"] = "%s:%d" % (path, c["line"])
    return out


def cli_session(path):
    """[(line_no, command, [shown output lines])] of the first ```sh block
    of a page whose lines start with `$ `."""
    with open(os.path.join(SRC, path), encoding="utf-8") as f:
        text = f.read()
    for lang, line, body, _ in fenced_blocks(text):
        if lang != "sh" or not body or not body[0].startswith("$ "):
            continue
        out = []
        for n, row in enumerate(body):
            if row.startswith("$ "):
                out.append((line + n, row[2:], []))
            elif out:
                out[-1][2].append(row)
        return out
    return []


# What varies from run to run in a command's output.
MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "TIME"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "SHA256"),
    (re.compile(r"(--cursor |\"cursor\":\")[A-Za-z0-9_\-.]+"), r"\1CURSOR"),
    (re.compile(r"\d+(\.\d+)? s\b"), "SECONDS"),
    (re.compile(r"\d+ records/s"), "RATE"),
    (re.compile(r"\d+(\.\d+)? [KMG]iB"), "SIZE"),
]


def masked(line):
    for rx, sub in MASKS:
        line = rx.sub(sub, line)
    return line.rstrip()


# ==== Checks ====

def json_type(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def shape_errors(shown, got, where="$"):
    """Where `got` lacks what `shown` shows (keys, types, items)."""
    errs = []
    if shown is None:
        return errs
    if json_type(shown) != json_type(got):
        return ["%s: shown as %s, answered %s" %
                (where, json_type(shown), json_type(got))]
    if isinstance(shown, dict):
        for k, v in shown.items():
            if k not in got:
                errs.append("%s: no field %r" % (where, k))
            else:
                errs.extend(shape_errors(v, got[k], "%s.%s" % (where, k)))
    elif isinstance(shown, list):
        if len(got) < len(shown):
            errs.append("%s: %d items shown, %d answered" %
                        (where, len(shown), len(got)))
        for i, (s, g) in enumerate(zip(shown, got)):
            errs.extend(shape_errors(s, g, "%s[%d]" % (where, i)))
    return errs


def last_status(headers_text):
    """The final status of a `curl -D` header dump (after any 1xx)."""
    codes = re.findall(r"^HTTP/\S+\s+(\d{3})", headers_text, re.M)
    return int(codes[-1]) if codes else None


class DocExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("curl"):
            raise unittest.SkipTest("curl is not installed")
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="docex-", dir=TMP)
        kb = os.path.join(cls.root, "kb")
        for args in (["init"], ["import", "--quiet",
                                os.path.join(SRC, "data", "sample.hkl")]):
            p = subprocess.run([BIN, "--data", kb] + args,
                               capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise AssertionError("%s: %s" % (args, p.stderr))
        cls.srv = Server(data=kb)

    @classmethod
    def tearDownClass(cls):
        code = cls.srv.stop()
        out = cls.srv.output()
        cls.srv.cleanup()
        shutil.rmtree(cls.root, ignore_errors=True)
        if code != 0:
            raise AssertionError("server exited %d:\n%s" % (code, out))

    def test_examples_run_as_written(self):
        all_examples = []
        for path in DOCS:
            ex = examples(path)
            self.assertGreaterEqual(len(ex), MIN_EXAMPLES[path],
                                    "%s: too few curl examples found" % path)
            all_examples.extend(ex)
        base = "http://127.0.0.1:%d" % self.srv.port
        work = os.path.join(self.root, "work")
        os.makedirs(work)
        hdr, body = os.path.join(work, ".headers"), os.path.join(work, ".body")
        # Every curl of an example also dumps its headers and a copy of its
        # answer, leaving what the example pipes on unchanged.
        prelude = ('curl() { command curl -D "$HK_HDR" --max-time 30 "$@" | '
                   'tee -p "$HK_BODY"; }\n')
        env = dict(os.environ, B=base, CURSOR="", ADMIN="", TOKEN="",
                   HK_HDR=hdr, HK_BODY=body)
        failures, skipped = [], []
        for ex in all_examples:
            missing = [t for t in OPTIONAL_TOOLS
                       if re.search(r"\b%s\b" % t, ex["text"])
                       and not shutil.which(t)]
            if missing:
                skipped.append("%s (needs %s)" % (ex["where"],
                                                  ", ".join(missing)))
                continue
            text = ex["text"].replace("/var/backups/", work + "/")
            for f in (hdr, body):
                if os.path.exists(f):
                    os.unlink(f)
            p = subprocess.run(["bash", "-c", prelude + text], cwd=work,
                               env=env, capture_output=True, timeout=60)
            why = self.check(ex, p, hdr, body, env)
            if why:
                failures.append("%s: %s\n    %s" %
                                (ex["where"], why, ex["text"].strip()))
        for s in skipped:
            print("SKIP example " + s)
        print("%d examples run, %d skipped" %
              (len(all_examples) - len(skipped), len(skipped)))
        self.assertEqual(failures, [], "\n" + "\n".join(failures))

    def check(self, ex, p, hdr, body, env):
        """Why the run `p` of example `ex` differs from its page, or None."""
        try:
            with open(hdr, encoding="utf-8", errors="replace") as f:
                status = last_status(f.read())
            with open(body, "rb") as f:
                raw = f.read()
        except OSError:
            return "no answer (exit %d): %s" % (
                p.returncode, p.stderr.decode(errors="replace").strip())
        answer = None
        try:
            answer = json.loads(raw)
        except ValueError:
            pass
        if isinstance(answer, dict) and isinstance(answer.get("next_cursor"),
                                                   str):
            env["CURSOR"] = answer["next_cursor"]
        text = raw.decode(errors="replace")[:300]
        if status != ex["status"]:
            return "status %s, the page shows %d: %s" % (status, ex["status"],
                                                         text)
        if p.returncode != 0:
            return "the command exited %d: %s" % (
                p.returncode, p.stderr.decode(errors="replace").strip()[:300])
        shown = []
        if ex.get("shown"):
            try:
                shown.append(lenient_json(ex["shown"]))
            except ValueError as e:
                return "the answer shown is not JSON: %s" % e
        if ex.get("shown_block") is not None:
            shown.append(ex["shown_block"])
        for s in shown:
            errs = shape_errors(s, answer)
            if errs:
                return "answer differs from the page: %s; answered %s" % (
                    "; ".join(errs[:5]), text)
        return None


class CliSession(unittest.TestCase):
    def test_readme_session(self):
        steps = cli_session("README.md")
        self.assertGreaterEqual(len(steps), 10, "README.md: no CLI session")
        os.makedirs(TMP, exist_ok=True)
        work = tempfile.mkdtemp(prefix="docex-cli-", dir=TMP)
        self.addCleanup(shutil.rmtree, work, True)
        os.symlink(os.path.join(SRC, "data"), os.path.join(work, "data"))
        bindir = os.path.join(work, "bin")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(BIN), os.path.join(bindir, "hakgal"))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("HAKGAL_")}
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        failures = []
        for line_no, cmd, shown in steps:
            m = re.match(r"export (\w+)=(\S+)$", cmd)
            if m:
                env[m.group(1)] = m.group(2)
                continue
            # A path outside the scratch directory is moved into it.
            run_cmd = cmd.replace("/srv/backups/", work + "/backups/")
            p = subprocess.run(["bash", "-c", run_cmd], cwd=work, env=env,
                               capture_output=True, text=True, timeout=120)
            got = (p.stdout + p.stderr).replace(work + "/backups/",
                                                "/srv/backups/")
            want = sorted(masked(x) for x in shown if x.strip())
            have = sorted(masked(x) for x in got.split("\n") if x.strip())
            is_error = bool(shown) and shown[0].startswith("hakgal ")
            where = "README.md:%d: %s" % (line_no, cmd)
            if is_error == (p.returncode == 0):
                failures.append("%s: exit %d\n%s" % (where, p.returncode,
                                                     got))
            elif want != have:
                failures.append("%s:\n  shown:    %s\n  answered: %s" %
                                (where, "\n            ".join(want),
                                 "\n            ".join(have)))
        self.assertEqual(failures, [], "\n" + "\n".join(failures))


class Extraction(unittest.TestCase):
    """The parser above on small pages, so that a change to it that
    silently drops examples fails here."""

    def test_commands_and_annotations(self):
        lines = ["# a comment above",
                 "curl -s $B/a   # 201",
                 "curl -s -XPOST $B/b -d '{\"query\":",
                 "  \"x # not a comment\"}'",
                 "# {\"valid\": true}",
                 "printf 'x\\n' |",
                 "  curl -s $B/c \\",
                 "  -d @-"]
        cmds = split_commands(lines, 1)
        self.assertEqual([c["status"] for c in cmds], [201, 200, 200])
        self.assertIn("not a comment", cmds[1]["text"])
        self.assertEqual(cmds[1]["shown"], "{\"valid\": true}")
        self.assertEqual(cmds[2]["line"], 6)
        self.assertIn("-d @-", cmds[2]["text"])

    def test_shapes(self):
        shown = lenient_json('{"a": [{"b": 1}, ...], "c": {...}, "d": null}')
        self.assertEqual(shape_errors(shown, {"a": [{"b": 2}], "c": {},
                                              "d": "x"}), [])
        self.assertTrue(shape_errors(shown, {"a": [], "c": {}, "d": 1}))
        self.assertTrue(shape_errors(shown, {"a": [{"b": "1"}], "c": {},
                                             "d": 1}))
        self.assertTrue(shape_errors(shown, {"a": [{"b": 1}], "d": 1}))

    def test_blocks(self):
        text = "x\n```sh\ncurl $B/a\n```\n\n```json\n{\"a\": 1}\n```\n"
        b = fenced_blocks(text)
        self.assertEqual([(x[0], x[3]) for x in b],
                         [("sh", False), ("json", True)])


if __name__ == "__main__":
    run_tests(__name__)
