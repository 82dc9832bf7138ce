"""Parse a bash command into the simple commands it would run.

bashlex gives the syntax tree; this module walks it in execution order, reads each word
as bash would (quotes, ANSI-C escapes, braces: see shell_words), tracks variable
assignments (so `x=/; rm -rf $x` expands to `rm -rf /`), works out the output of
substitutions whose output is known from the text (`$(echo rm)` is `rm`), strips
wrappers (`sudo`, `env`, `xargs`, `timeout` …), and descends into code run indirectly:
`sh -c`, `eval`, `su -c`, `find -exec`, `xargs` fed a literal list, command and process
substitutions, base64 payloads decoded into a shell, and code given to interpreters
(`python -c`, `perl -e`, `node -e`, awk programs; see interpreter_code). A command name
that stays unknown (an unset variable, a substitution whose output is not known) is
marked, and so is text neither bashlex nor the line-by-line fallback can read.
"""

from __future__ import annotations

import logging
import posixpath
import re
import shlex
from dataclasses import dataclass, field

import bashlex
import bashlex.ast
import bashlex.errors

from deskpilot.safety.interpreter_code import code_effects
from deskpilot.safety.shell_words import (
    Dequoted,
    base64_decoded,
    dequote,
    echo_output,
    expand_braces,
    literal,
    printf_output,
    restore,
)

log = logging.getLogger("deskpilot.safety.shell_parse")

MAX_DEPTH = 6
MAX_VARIANTS = 8
MAX_CODE_COMMANDS = 16
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish", "csh", "tcsh"})
INTERPRETER_RE = re.compile(r"^(?:python[\d.]*|perl|ruby|node|nodejs|php[\d.]*|lua[\d.]*|pwsh)$")
AWKS = frozenset({"awk", "gawk", "mawk", "nawk", "busybox-awk"})
UNKNOWN = "$(…)"  # a value only known when the command runs
# Stands for UNKNOWN in code run again (`eval "$(…)"`): an unset variable, so a program
# name made of it is judged unknown.
UNKNOWN_WORD = "$__unknown_output"
_PARAM_RE = re.compile(r"\$(?:\{(\w+|[@*])(?::?[-=]([^}]*))?\}|(\w+|[@*]))")
_SUBST_RE = re.compile(r"\$\((?:[^()]|\([^()]*\))*\)|`[^`]*`|[<>]\((?:[^()]|\([^()]*\))*\)")
# What a program name looks like; a variable holding anything else (`rm,-rf,/` with a
# changed IFS) is split in ways the gate does not follow.
_PROGRAM_NAME_RE = re.compile(r"^[\w.~/+@:-]+$")
# Constructs the line-by-line fallback cannot read.
_UNREADABLE_RE = re.compile(r"\$'|(?<![\w.])\$\"|[<>]\(|[!@+*?]\(|\(\(")
_EXPANSION_RE = re.compile(r"\$[\w{(@*`]|`")
_TIME_RE = re.compile(r"(^|[;&|({]\s*|\b(?:then|do|else)\s+|!\s+)time(?:\s+-p)?\s+(?=\S)", re.M)


@dataclass
class Command:
    """One simple command as it would run, wrappers removed."""

    argv: list[str]
    redirects: list[tuple[str, str]] = field(default_factory=list)
    wrappers: list[str] = field(default_factory=list)
    subs: list[Pipeline] = field(default_factory=list)
    origin: str = ""
    stdin_text: str | None = None
    # Words bash computes (substitutions, unknown variables, ANSI-C quoting, braces):
    # index in the argv as written -> the word as written.
    computed_words: dict[int, str] = field(default_factory=dict)
    # Index, in the argv as written, of argv[0] now that wrappers are stripped.
    name_index: int = 0
    # Set when code given to an interpreter runs a command built at run time.
    computed_exec: bool = False

    @property
    def computed_name(self) -> str | None:
        """The program name as written when bash computes it, else None."""
        if not self.argv:
            return None
        written = self.computed_words.get(self.name_index)
        return written.replace(UNKNOWN_WORD, UNKNOWN) if written else None

    @property
    def name(self) -> str:
        """The program's base name (`/usr/bin/rm` -> `rm`)."""
        return posixpath.basename(self.argv[0]) if self.argv else ""

    @property
    def args(self) -> list[str]:
        """Arguments after the program name."""
        return self.argv[1:]


@dataclass
class Pipeline:
    """Commands joined by `|`, in order."""

    commands: list[Command]
    origin: str = ""
    output: str | None = None  # what it writes, when known from the text


@dataclass
class Script:
    """Everything a command line would run, nested code included, in execution order."""

    pipelines: list[Pipeline] = field(default_factory=list)
    fork_bomb: bool = False
    parse_failed: bool = False
    unreadable: bool = False  # neither bashlex nor the fallback could read all of it
    undecodable_payloads: int = 0
    decoded_payloads: list[str] = field(default_factory=list)

    def commands(self) -> list[Command]:
        """Every simple command, substitutions included."""
        out: list[Command] = []
        stack = list(self.pipelines)
        while stack:
            pipeline = stack.pop(0)
            for command in pipeline.commands:
                out.append(command)
                stack.extend(command.subs)
        return out


def parse_script(text: str) -> Script:
    """Parse a command line (or script) into a Script; never raises. Text the walker
    trips on is marked unreadable (so it needs a person) with what was read so far."""
    script = Script()
    try:
        _Walker(script).run(text, depth=0, origin="")
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, RecursionError):
        log.warning("shell walker failed on %d chars", len(text), exc_info=True)
        script.unreadable = True
    return script


# `~` stands for a home folder two levels below `/`, so `~/../../etc` resolves to /etc.
_HOME_ANCHOR = "/home/\x01home"


def normalise_path(word: str) -> str:
    """`..` and `//` are resolved first (`/home/u/../../etc/shadow` is /etc/shadow), then
    `$HOME`, `/root`, `/home/<user>` become `~`."""
    if not word or word.startswith("-"):
        return word
    value = word.replace("${HOME}", "~").replace("$HOME", "~")
    if value == "~" or value.startswith("~/"):
        value = _HOME_ANCHOR + value[1:]
    if value.startswith("/"):
        trailing_glob = value.endswith("/*")
        value = posixpath.normpath(value)
        if value.startswith("//"):
            value = value[1:]
        if trailing_glob and not value.endswith("*"):
            value += "/*"
    value = re.sub(r"^/home/[^/]+(?=/|$)", "~", value)
    return re.sub(r"^/root(?=/|$)", "~", value)


class _Walker:
    """Walks bashlex trees, filling a Script."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.env: dict[str, list[str]] = {"HOME": ["~"]}
        self.computed_vars: set[str] = set()
        self.functions: dict[str, tuple[bashlex.ast.node, str]] = {}
        self.aliases: dict[str, str] = {}
        # Contents of process substitutions known from the text, by the path bash passes.
        self.fd_contents: dict[str, str | None] = {}
        self._calling: set[str] = set()
        self._defining = 0
        self._source = ""

    # -- entry ---------------------------------------------------------------------------
    def run(self, text: str, depth: int, origin: str) -> None:
        if depth > MAX_DEPTH or not text.strip():
            return
        if _FORK_BOMB_RE.search(re.sub(r"\s+", "", text)):
            self.script.fork_bomb = True
        trees = _parse(text)
        extracted: list[str] = []
        if trees is None:
            # bashlex lacks `time`, arithmetic and `[[ ]]`: rewrite them and try again.
            text, extracted = _prepared(text)
            trees = _parse(text)
        saved, self._source = self._source, text
        try:
            for code in extracted:
                self.run(code, depth + 1, "arithmetic")
            if trees is None:
                self.script.parse_failed = True
                if _UNREADABLE_RE.search(text):
                    self.script.unreadable = True
                self._fallback(text, depth, origin)
                return
            for tree in trees:
                self._node(tree, depth, origin, self.script.pipelines)
        finally:
            self._source = saved

    # -- tree walking ----------------------------------------------------------------------
    def _node(self, node: bashlex.ast.node, depth: int, origin: str, out: list[Pipeline]) -> None:
        kind = node.kind
        if kind == "list":
            for part in node.parts:
                self._node(part, depth, origin, out)
        elif kind == "pipeline":
            commands: list[Command] = []
            piped: str | None = None
            for part in node.parts:
                if part.kind == "command":
                    made = self._command(part, depth, origin, piped)
                    commands.extend(made)
                    piped = stage_output(made[0]) if made else None
                elif part.kind != "pipe":
                    self._node(part, depth, origin, out)
                    piped = None
            if commands:
                pipeline = Pipeline(commands, origin, piped)
                out.append(pipeline)
                self._pipeline_payloads(pipeline, depth)
        elif kind == "command":
            commands = self._command(node, depth, origin)
            if commands:
                out.append(Pipeline(commands, origin, stage_output(commands[0])))
        elif kind == "compound":
            for part in node.list:
                self._node(part, depth, origin, out)
        elif kind == "for":
            self._for(node, depth, origin, out)
        elif kind in ("if", "while", "until"):
            for part in node.parts:
                self._node(part, depth, origin, out)
        elif kind == "function":
            self._function(node, depth, origin, out)

    def _for(self, node: bashlex.ast.node, depth: int, origin: str, out: list[Pipeline]) -> None:
        parts = node.parts
        words = [p for p in parts if p.kind == "word"]
        if words and any(p.kind == "reservedword" and p.word == "in" for p in parts):
            name = words[0].word
            values: list[str] = []
            subs: list[Pipeline] = []
            computed = False
            for word in words[1:]:
                expansion = self._expand_word(word, depth, subs, split=True)
                values.extend(expansion.values)
                computed = computed or expansion.computed is not None
            out.extend(subs)  # `for f in $(…)` runs the substitution
            self.env[name] = values[:MAX_VARIANTS] or [f"${name}"]
            self._mark(name, computed)
        for part in parts:
            if part.kind not in ("word", "reservedword"):
                self._node(part, depth, origin, out)

    def _function(
        self, node: bashlex.ast.node, depth: int, origin: str, out: list[Pipeline]
    ) -> None:
        name = node.name.word
        self.functions[name] = (node.body, self._source)
        body: list[Pipeline] = []
        # Walked now for what it does whatever its arguments; a call walks it again with
        # them bound, so names computed from parameters are judged at the call.
        self._defining += 1
        try:
            self._node(node.body, depth, origin, body)
        finally:
            self._defining -= 1
        # Calling itself more than once (or through a pipe) multiplies processes.
        self_calls = [c for p in body for c in p.commands if c.name == name]
        piped = any(len(p.commands) > 1 for p in body if any(c.name == name for c in p.commands))
        if len(self_calls) >= 2 or piped:
            self.script.fork_bomb = True
        out.extend(body)

    def _command(
        self, node: bashlex.ast.node, depth: int, origin: str, piped: str | None = None
    ) -> list[Command]:
        argv: list[str] = []
        redirects: list[tuple[str, str]] = []
        subs: list[Pipeline] = []
        assignments: list[tuple[str, _Expansion]] = []
        computed_words: dict[int, str] = {}
        heredoc: str | None = None
        for part in node.parts:
            if part.kind == "assignment":
                name, _, _ = part.word.partition("=")
                assignments.append((name, self._expand_word(part, depth, subs, strip=name + "=")))
            elif part.kind == "word":
                expansion = self._expand_word(part, depth, subs, split=True)
                if expansion.computed and not self._defining:
                    first = len(argv)
                    computed_words.update(
                        dict.fromkeys(
                            range(first, first + len(expansion.values)), expansion.computed
                        )
                    )
                argv.extend(expansion.values)
            elif part.kind == "redirect":
                target = part.output
                if getattr(part, "heredoc", None) is not None:
                    # The body ends with the delimiter line; drop it.
                    heredoc = part.heredoc.value.rsplit("\n", 1)[0]
                if hasattr(target, "kind") and target.kind == "word":
                    values = self._expand_word(target, depth, subs).values
                    redirects.append((str(part.type), values[0] if values else ""))
                elif isinstance(target, int):
                    redirects.append((str(part.type), f"&{target}"))
        if not argv:
            for name, expansion in assignments:
                self.env[name] = expansion.values
                self._mark(name, expansion.computed is not None)
            if subs:
                return [Command([], redirects, subs=subs, origin=origin)]
            return []
        if argv[0] in ("export", "declare", "typeset", "local", "readonly"):
            for arg in argv[1:]:
                name, eq, value = arg.partition("=")
                if eq and re.fullmatch(r"\w+", name):
                    self.env[name] = [value]
                    self._mark(name, any(v for v in computed_words.values() if arg in v))
        if argv[0] == "alias":
            for arg in argv[1:]:
                name, eq, value = arg.partition("=")
                if eq:
                    self.aliases[name] = value
        here = next((t for op, t in redirects if op == "<<<"), None)
        stdin_text = here if here is not None else heredoc if heredoc is not None else piped
        command = Command(
            argv,
            redirects,
            subs=subs,
            origin=origin,
            stdin_text=stdin_text,
            computed_words=computed_words,
        )
        if command.name in self.functions:
            self._call_function(command, depth)
        if argv[0] in self.aliases and depth < MAX_DEPTH:
            line = " ".join([self.aliases[argv[0]], *map(shlex.quote, argv[1:])])
            self.run(line, depth + 1, f"alias {argv[0]}")
        return self._unwrap(command, depth)

    def _mark(self, name: str, computed: bool) -> None:
        """Remember whether a variable's value was computed (so `$x` as a program name
        is judged as unknown)."""
        if computed:
            self.computed_vars.add(name)
        else:
            self.computed_vars.discard(name)

    def _call_function(self, command: Command, depth: int) -> None:
        """Walk a shell function's body again with its positional parameters bound, so
        `f() { curl -d @"$1" …; }; f ~/.ssh/id_rsa` is judged with the real path."""
        name = command.name
        if depth >= MAX_DEPTH or name in self._calling:
            return
        keys = [*map(str, range(1, 10)), "@", "*"]
        saved = {k: self.env.get(k) for k in keys}
        for key in keys:
            self.env.pop(key, None)
        for index, value in enumerate(command.args[:9], start=1):
            self.env[str(index)] = [value]
        self.env["@"] = self.env["*"] = [" ".join(command.args)] if command.args else [""]
        body, source = self.functions[name]
        self._calling.add(name)
        saved_source, self._source = self._source, source
        try:
            self._node(body, depth + 1, f"function {name}", self.script.pipelines)
        finally:
            self._source = saved_source
            self._calling.discard(name)
            for key, value in saved.items():
                if value is None:
                    self.env.pop(key, None)
                else:
                    self.env[key] = value

    # -- expansion -------------------------------------------------------------------------
    def _raw(self, node: bashlex.ast.node) -> str:
        start, end = getattr(node, "pos", (0, 0))
        return self._source[start:end] if 0 <= start < end <= len(self._source) else ""

    def _expand_word(
        self,
        word: bashlex.ast.node,
        depth: int,
        subs: list[Pipeline],
        strip: str = "",
        split: bool = False,
    ) -> _Expansion:
        """The values a word can take, as bash reads it. `computed` (the word as written)
        when bash computes it: substitutions, unset or computed variables, ANSI-C quoting,
        braces. `split`: unquoted expansions split into words, as for arguments."""
        raw = self._raw(word)
        start = getattr(word, "pos", (0, 0))[0]
        expansions: dict[int, tuple[int, str]] = {}
        computed = False
        params: list[str] = []
        for part in getattr(word, "parts", []) or []:
            begin, end = part.pos[0] - start, part.pos[1] - start
            if part.kind == "parameter":
                params.append(raw[begin:end])
                expansions[begin] = (end, raw[begin:end])
            elif part.kind in ("commandsubstitution", "processsubstitution"):
                computed = True
                nested: list[Pipeline] = []
                self._node(part.command, depth + 1, "substitution", nested)
                subs.extend(nested)
                output = nested[0].output if len(nested) == 1 else None
                if part.kind == "processsubstitution":
                    path = f"/dev/fd/{63 - len(self.fd_contents) % 60}"
                    self.fd_contents[path] = output
                    expansions[begin] = (end, path)
                else:
                    expansions[begin] = (end, UNKNOWN if output is None else literal(output))
        if raw:
            dequoted = dequote(raw, expansions)
        else:  # no position into the text: bashlex's own word, quotes already removed
            dequoted = Dequoted(literal(word.word), quoted=True, ansi_c=False)
        text = dequoted.text
        if strip and text.startswith(strip):
            text = text[len(strip) :]
        computed = computed or dequoted.ansi_c
        variants = [text]
        if not dequoted.quoted and "{" in text:
            braced = expand_braces(text)
            if braced != [text]:
                variants, computed = braced, True
        for match in list(_PARAM_RE.finditer(text))[:6] if params else []:
            name = match.group(1) or match.group(3)
            values = self.env.get(name)
            if values is None:
                computed = True  # unset here: whatever the environment holds
                values = [match.group(2)] if match.group(2) else None
            elif name in self.computed_vars:
                computed = True
            if values is None:
                continue
            token = match.group(0)
            variants = [v.replace(token, value, 1) for v in variants for value in values]
            variants = variants[:MAX_VARIANTS]
        variants = [restore(v) for v in variants]
        expanded = bool(params) or computed
        if split and expanded and not dequoted.quoted:
            variants = [w for v in variants for w in (v.split() or [v])][: MAX_VARIANTS * 4]
        if split and any(
            not _PROGRAM_NAME_RE.match(v) for v in variants[:1] if v and expanded and v != UNKNOWN
        ):
            computed = True
        return _Expansion(variants, restore(raw) if computed else None)

    # -- wrappers and nested code ------------------------------------------------------------
    def _unwrap(self, command: Command, depth: int) -> list[Command]:
        """Strip `sudo`/`env`/`xargs`… and descend into `sh -c`, `eval`, `find -exec`,
        interpreters' code."""
        out = [command]
        for _ in range(6):
            argv = command.argv
            name = command.name
            rest = _strip_wrapper(name, argv[1:])
            if rest is None:
                break
            command.wrappers.append(name)
            if name == "watch":  # runs its arguments as one `sh -c` line
                line = " ".join(rest).replace(UNKNOWN, UNKNOWN_WORD)
                self.run(line, depth + 1, "watch")
                break
            command.name_index += len(argv) - len(rest)  # the wrapped command is a suffix
            if name == "xargs":
                rest = _xargs_command(argv[1:], rest, command.stdin_text)
                command.stdin_text = None
            if not rest:
                break
            command.argv = rest
        name = command.name
        args = command.args
        if is_shell_runner(command) or name in ("su", "runuser"):
            self._decode_substituted_payloads(command, depth)
        file_code = next((self.fd_contents[a] for a in args if a in self.fd_contents), None)
        if name in SHELLS or name == "su" or name == "runuser":
            code = _flag_value(args, ("-c",))
            if code is not None:
                self.run(code.replace(UNKNOWN, UNKNOWN_WORD), depth + 1, f"{name} -c")
            elif file_code and name in SHELLS:
                self.run(file_code, depth + 1, f"{name} <(…)")
            elif command.stdin_text and name in SHELLS:
                self.run(command.stdin_text, depth + 1, f"{name} stdin")
        elif name in ("source", ".") and file_code:
            self.run(file_code, depth + 1, name)
        elif name == "eval":
            self.run(" ".join(args).replace(UNKNOWN, UNKNOWN_WORD), depth + 1, "eval")
        elif name == "find":
            # `{}` stands for every match: under the root itself when nothing filters.
            root = next((a for a in args if not a.startswith(("-", "(", "!"))), ".")
            filtered = any(a in _FIND_FILTERS for a in args)
            match = f"{root.rstrip('/')}/{'<match>' if filtered else '*'}"
            for exec_argv in _find_execs(args):
                exec_argv = [a.replace("{}", match) for a in exec_argv]
                if not filtered and posixpath.basename(exec_argv[0]) == "rm":
                    exec_argv.insert(1, "--recursive")  # find walks the whole tree
                nested = Command(exec_argv, origin="find -exec", wrappers=["find"])
                out.extend(self._unwrap(nested, depth + 1))
        elif name == "busybox" and args:
            command.argv = args
            command.name_index += 1
            return self._unwrap(command, depth)
        language = _language(name)
        if language:
            code = _interpreter_code(language, args, command.stdin_text, file_code)
            if code:
                effects = code_effects(language, code)
                for line in effects.commands[:MAX_CODE_COMMANDS]:
                    self.run(line, depth + 1, f"{name} code")
                command.computed_exec = effects.computed
        return out

    def _decode_substituted_payloads(self, command: Command, depth: int) -> None:
        """`eval "$(echo <base64> | base64 -d)"` and `bash -c "$(… | base64 -d)"`."""
        for pipeline in command.subs:
            stages = pipeline.commands
            if not stages or not is_base64_decode(stages[-1]):
                continue
            payload = _literal_input(stages[:-1], stages[-1])
            decoded = base64_decoded(payload) if payload else None
            if decoded is None:
                self.script.undecodable_payloads += 1
            else:
                self.script.decoded_payloads.append(decoded)
                self.run(decoded, depth + 1, "base64")

    def _pipeline_payloads(self, pipeline: Pipeline, depth: int) -> None:
        """`echo <base64> | base64 -d | sh`: the payload is marked as hidden code (the
        decoded text reached the shell's stdin and was judged there)."""
        stages = pipeline.commands
        for index, stage in enumerate(stages):
            if not is_base64_decode(stage):
                continue
            if not any(is_shell_runner(s) for s in stages[index + 1 :]):
                continue
            payload = _literal_input(stages[:index], stage)
            decoded = base64_decoded(payload) if payload else None
            if decoded is None:
                self.script.undecodable_payloads += 1
            else:
                self.script.decoded_payloads.append(decoded)

    def _fallback(self, text: str, depth: int, origin: str) -> None:
        """Tokenise line by line with shlex when bashlex cannot parse, so rules still see
        commands; control keywords are dropped and `$(`, `(`, `)` split commands."""
        current: list[Command] = []
        argv: list[str] = []
        redirects: list[tuple[str, str]] = []
        pending_redirect: str | None = None

        def finish_command() -> None:
            nonlocal argv, redirects
            while argv and argv[0] in _RESERVED:
                argv = argv[2:] if argv[0] == "function" else argv[1:]
            if argv and argv[0] in ("local", "declare", "export", "readonly", "typeset"):
                argv = [a for a in argv[1:] if not a.startswith("-")]
            while argv and re.fullmatch(r"\w+=.*", argv[0]):
                name, _, value = argv.pop(0).partition("=")
                self.env[name] = [_expand_plain(value, self.env)]
            if argv:
                expanded = [_expand_plain(a, self.env) for a in argv]
                computed = {
                    index: token
                    for index, (token, value) in enumerate(zip(argv, expanded, strict=True))
                    if _EXPANSION_RE.search(token) and (value == token or "$" in value)
                }
                command = Command(expanded, redirects, origin=origin, computed_words=computed)
                current.extend(self._unwrap(command, depth))
            argv, redirects = [], []

        def finish_pipeline() -> None:
            nonlocal current
            finish_command()
            if current:
                pipeline = Pipeline(current, origin)
                self.script.pipelines.append(pipeline)
                self._pipeline_payloads(pipeline, depth)
            current = []

        for line in _logical_lines(text):
            tokens = _tokens(line)
            if tokens is None:
                self.script.unreadable = True  # unbalanced quotes, a dangling escape
                tokens = line.split()
            for token in tokens:
                if pending_redirect:
                    redirects.append((pending_redirect, _expand_plain(token, self.env)))
                    pending_redirect = None
                elif token in ("|", "|&"):
                    finish_command()
                elif token in (";", "&&", "||", "&", "(", ")", ";;", "`"):
                    finish_pipeline()
                elif token in (">", ">>", "<", ">|", "&>", "<<<", "2>", "<<", ">&", "&>>"):
                    pending_redirect = token
                elif token.startswith("#") and not argv:
                    break
                else:
                    argv.append(token)
            pending_redirect = None
            finish_pipeline()


@dataclass(frozen=True)
class _Expansion:
    values: list[str]
    computed: str | None  # the word as written, when bash computes its value


def _parse(text: str) -> list[bashlex.ast.node] | None:
    try:
        return bashlex.parse(text)
    except (
        bashlex.errors.ParsingError,
        NotImplementedError,
        IndexError,
        AttributeError,
        TypeError,
        ValueError,
        AssertionError,
        RecursionError,
    ):
        return None


def _prepared(text: str) -> tuple[str, list[str]]:
    """Text bashlex can parse in place of constructs it lacks, and the code that ran
    inside them: the `time` keyword is dropped, here-document delimiters are unquoted,
    arithmetic `$((…))`/`$[…]` becomes 0
    (substitutions inside it are returned to be judged), `((…))` commands become `true`,
    `[[ … ]]` becomes `test …`."""
    text = _TIME_RE.sub(r"\1", text)
    # bashlex wants the delimiter line to read `'EOF'` when the operator quotes it.
    text = re.sub(r"<<(-?)\s*(?:(['\"])([\w.-]+)\2|\\([\w.-]+))", r"<<\1\3\4", text)
    text, inner = _replace_arithmetic(text)
    text = re.sub(r"\bfor\s*\(\(.*?\)\)", "for _ in 0", text)
    text = re.sub(r"(?<![$\w])\(\((.*?)\)\)", "true", text)
    text = re.sub(r"\[\[(.*?)\]\]", r"test \1", text)
    return text, inner


_ARITHMETIC_START = re.compile(r"\$\(\(|\$\[")


def _replace_arithmetic(text: str) -> tuple[str, list[str]]:
    out: list[str] = []
    codes: list[str] = []
    index = 0
    while match := _ARITHMETIC_START.search(text, index):
        out.append(text[index : match.start()])
        closer = "))" if match.group(0) == "$((" else "]"
        end, depth = match.end(), 0
        while end < len(text):
            char = text[end]
            if depth == 0 and text.startswith(closer, end):
                break
            depth += (char == "(") - (char == ")" and depth > 0)
            end += 1
        inner = text[match.end() : end]
        for found in _SUBST_RE.findall(inner):
            codes.append(found[2:-1] if found.startswith("$(") else found[1:-1])
        out.append("0")
        index = end + len(closer)
    out.append(text[index:])
    return "".join(out), codes


def stage_output(command: Command) -> str | None:
    """What one pipeline stage writes, when its text tells: echo, printf, cat of its
    input, base64 -d, rev. None otherwise."""
    name, args, stdin = command.name, command.args, command.stdin_text
    if command.wrappers or any(op.startswith(">") for op, _ in command.redirects):
        return None  # run by another program, or writing to a file instead
    if name == "echo":
        return echo_output(args)
    if name == "printf":
        return printf_output(args)
    if name == "cat" and not [a for a in args if a != "-"]:
        return stdin
    if is_base64_decode(command) and stdin is not None and not _operands_of(args):
        return base64_decoded(stdin)
    looks_up = name == "which" or (name in ("command", "type") and args[:1] in (["-v"], ["-P"]))
    if looks_up and len(args) in (1, 2):
        return args[-1]  # the program's path ends in its name
    if name == "rev" and stdin is not None and not args:
        return "\n".join(line[::-1] for line in stdin.split("\n"))
    return None


def _operands_of(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _xargs_command(xargs_args: list[str], rest: list[str], stdin: str | None) -> list[str]:
    """The command xargs runs, with the items it reads: a literal list (`<<< /`, `echo / |`)
    is spliced in (at `-I` placeholders, else appended); an unknown one stands as $(…)."""
    replace: str | None = None
    options = xargs_args[: len(xargs_args) - len(rest)]
    for index, arg in enumerate(options):
        if arg == "-I" and index + 1 < len(options):
            replace = options[index + 1]
        elif arg.startswith("-I") and len(arg) > 2:
            replace = arg[2:]
        elif arg in ("-i", "--replace"):
            replace = "{}"
        elif arg.startswith(("-i", "--replace=")):
            replace = arg.split("=", 1)[1] if "=" in arg else arg[2:]
    if stdin is None:
        items = [UNKNOWN]
    elif replace is not None:
        items = [line for line in stdin.splitlines() if line.strip()]
    else:
        items = _tokens(stdin.replace("\n", " ")) or stdin.split()
    items = items[: MAX_VARIANTS * 4] or [UNKNOWN]
    command = rest or ["echo"]
    if replace is None:
        return command + items
    spliced: list[str] = []
    for arg in command:
        spliced.extend([arg.replace(replace, item) for item in items] if replace in arg else [arg])
    return spliced


def _language(name: str) -> str | None:
    """The language a program interprets, for the programs whose code is judged."""
    if name in AWKS:
        return "awk"
    if not INTERPRETER_RE.match(name):
        return None
    for prefix, language in (("python", "python"), ("perl", "perl"), ("ruby", "ruby"),
                             ("node", "node"), ("php", "php"), ("lua", "lua")):  # fmt: skip
        if name.startswith(prefix):
            return language
    return None


_CODE_FLAGS = {
    "python": ("c",),
    "perl": ("e", "E"),
    "ruby": ("e",),
    "node": ("e", "p"),
    "php": ("r",),
    "lua": ("e",),
}
_AWK_OPTS_WITH_VALUE = frozenset({"-F", "-v", "-f", "--field-separator", "--assign", "--file"})


def _interpreter_code(
    language: str, args: list[str], stdin: str | None, file_code: str | None
) -> str | None:
    """The code an interpreter runs, when the command line holds it: `-c`/`-e` code, an
    awk program, a script fed on stdin (`<<EOF`, `echo … |`) or by `<(…)`."""
    if language == "awk":
        index = 0
        while index < len(args):
            arg = args[index]
            if arg in ("-f", "--file") or arg.startswith("--file="):
                return None  # the program is in a file
            if arg in _AWK_OPTS_WITH_VALUE:
                index += 2
            elif arg.startswith("-"):
                index += 1
            else:
                return arg
        return None
    letters = _CODE_FLAGS.get(language, ())
    for index, arg in enumerate(args):
        if arg in ("--eval", "--print", "--command") and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(("--eval=", "--print=")):
            return arg.split("=", 1)[1]
        if (
            arg.startswith("-")
            and not arg.startswith("--")
            and arg[-1:] in letters
            and index + 1 < len(args)
        ):
            return args[index + 1]
    if file_code:
        return file_code
    operands = [a for a in args if not a.startswith("-") or a == "-"]
    if stdin and (not operands or operands[0] == "-"):
        return stdin
    return None


_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "function",
     "{", "}", "!", "case", "esac", "in", "select", "[[", "]]"}
)  # fmt: skip


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined."""
    return text.replace("\\\n", " ").splitlines()


def _tokens(line: str) -> list[str] | None:
    """shlex tokens of one line; None when it cannot be tokenised (unbalanced quotes)."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()`")
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError:
        return None


_FORK_BOMB_RE = re.compile(r"([\w:.]+)\(\)\{\1\|\1&?;?\};?\1|perl-e'fork")

_WRAPPER_OPTS_WITH_VALUE = {
    "sudo": {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group"},
    "doas": {"-u", "-C"},
    "nice": {"-n"},
    "ionice": {"-c", "-n", "-p"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "stdbuf": {"-i", "-o", "-e"},
    "xargs": {"-I", "-n", "-P", "-L", "-d", "-s", "-E", "-a", "--max-args", "--max-procs"},
    "watch": {"-n", "-d", "--interval"},
    "env": {"-u", "-C", "--unset", "--chdir"},
    "flock": {"-w", "-E"},
    "chroot": set(),
    "pkexec": {"--user"},
    "sshpass": {"-p", "-f", "-d", "-e"},
}
_SIMPLE_WRAPPERS = {"nohup", "time", "command", "builtin", "exec", "setsid", "unbuffer"}


def _strip_wrapper(name: str, args: list[str]) -> list[str] | None:
    """The wrapped command of a wrapper program, or None if `name` is not a wrapper."""
    if name in _SIMPLE_WRAPPERS:
        return [a for a in args if not (a.startswith("-") and a in ("-p", "-v", "-V"))] or []
    if name not in _WRAPPER_OPTS_WITH_VALUE:
        return None
    with_value = _WRAPPER_OPTS_WITH_VALUE[name]
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if arg in with_value:
            index += 2
            continue
        if arg.startswith("-") or (name == "env" and re.fullmatch(r"\w+=.*", arg)):
            index += 1
            continue
        if name == "timeout" and re.fullmatch(r"[\d.]+[smhd]?", arg):
            index += 1
            break
        if name == "flock" or name == "chroot":
            index += 1  # the lock file / new root
            break
        break
    return args[index:]


def _flag_value(args: list[str], flags: tuple[str, ...]) -> str | None:
    """The value after `-c` (also in combined flags like `-lc`)."""
    for index, arg in enumerate(args):
        combined = arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]
        if (arg in flags or combined) and index + 1 < len(args):
            return args[index + 1]
    return None


_FIND_FILTERS = frozenset(
    {"-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-type", "-newer", "-mtime",
     "-mmin", "-size", "-user", "-perm", "-empty", "-wholename"}
)  # fmt: skip


def _find_execs(args: list[str]) -> list[list[str]]:
    """Commands given to find's -exec / -execdir / -ok."""
    out = []
    index = 0
    while index < len(args):
        if args[index] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = index + 1
            while end < len(args) and args[end] not in (";", "\\;", "+"):
                end += 1
            if end > index + 1:
                out.append(args[index + 1 : end])
            index = end
        index += 1
    return out


def is_base64_decode(command: Command) -> bool:
    """`base64 -d`, `base64 --decode`, `openssl base64 -d`, `openssl enc -base64 -d`."""
    args = command.args
    if command.name in ("base64", "base32", "basenc"):
        return any(a in ("-d", "--decode", "-D") or re.fullmatch(r"-\w*d\w*", a) for a in args)
    if command.name == "openssl":
        return "-d" in args and any("base64" in a for a in args)
    return False


def is_shell_runner(command: Command) -> bool:
    """A command that executes code read from its input or arguments."""
    name = command.name
    return bool(name in SHELLS or INTERPRETER_RE.match(name) or name in ("eval", "source", "."))


def _literal_input(before: list[Command], stage: Command) -> str | None:
    """The literal text fed into `stage`: `echo X |`, `printf X |`, `<<< X`."""
    if stage.stdin_text:
        return stage.stdin_text
    for _op, target in stage.redirects:
        if _op == "<<<":
            return target
    if before:
        source = before[-1]
        if source.name in ("echo", "printf") and source.args:
            return " ".join(a for a in source.args if not re.fullmatch(r"-[neE]+", a))
    return None


def _expand_plain(token: str, env: dict[str, list[str]]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        values = env.get(name)
        if values:
            return values[0]
        return match.group(2) if match.group(2) else match.group(0)

    return _PARAM_RE.sub(sub, token)
