"""Parse a bash command into the simple commands it would run.

bashlex gives the syntax tree; this module walks it in execution order, tracks variable
assignments (so `x=/; rm -rf $x` expands to `rm -rf /`), strips wrappers (`sudo`, `env`,
`xargs`, `timeout` …), and descends into code run indirectly: `sh -c`, `eval`, `su -c`,
`find -exec`, command and process substitutions, and base64 payloads decoded into a shell.
When bashlex cannot parse the text, a shlex tokenisation stands in so rules still run.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
import shlex
from dataclasses import dataclass, field

import bashlex
import bashlex.ast
import bashlex.errors

MAX_DEPTH = 6
MAX_VARIANTS = 8
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish", "csh", "tcsh"})
INTERPRETER_RE = re.compile(r"^(?:python[\d.]*|perl|ruby|node|nodejs|php[\d.]*|lua[\d.]*|pwsh)$")
_PARAM_RE = re.compile(r"\$(?:\{(\w+)(?::?[-=]([^}]*))?\}|(\w+))")
_SUBST_RE = re.compile(r"\$\((?:[^()]|\([^()]*\))*\)|`[^`]*`|[<>]\((?:[^()]|\([^()]*\))*\)")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/=_-]{8,}$")


@dataclass
class Command:
    """One simple command as it would run, wrappers removed."""

    argv: list[str]
    redirects: list[tuple[str, str]] = field(default_factory=list)
    wrappers: list[str] = field(default_factory=list)
    subs: list[Pipeline] = field(default_factory=list)
    origin: str = ""
    stdin_text: str | None = None

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


@dataclass
class Script:
    """Everything a command line would run, nested code included, in execution order."""

    pipelines: list[Pipeline] = field(default_factory=list)
    fork_bomb: bool = False
    parse_failed: bool = False
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
    """Parse a command line (or script) into a Script; never raises."""
    script = Script()
    _Walker(script).run(text, depth=0, origin="")
    return script


def normalise_path(word: str) -> str:
    """`$HOME`, `/root`, `/home/<user>` become `~`; `..` and `//` are resolved."""
    if not word or word.startswith("-"):
        return word
    value = word.replace("${HOME}", "~").replace("$HOME", "~")
    value = re.sub(r"^/home/[^/]+(?=/|$)", "~", value)
    value = re.sub(r"^/root(?=/|$)", "~", value)
    if value.startswith(("/", "~")):
        trailing_glob = value.endswith("/*")
        value = posixpath.normpath(value)
        if value.startswith("//"):
            value = value[1:]
        if trailing_glob and not value.endswith("*"):
            value += "/*"
    return value


class _Walker:
    """Walks bashlex trees, filling a Script."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.env: dict[str, list[str]] = {"HOME": ["~"]}
        self.functions: dict[str, bashlex.ast.node] = {}
        self._calling: set[str] = set()

    # -- entry ---------------------------------------------------------------------------
    def run(self, text: str, depth: int, origin: str) -> None:
        if depth > MAX_DEPTH or not text.strip():
            return
        if _FORK_BOMB_RE.search(re.sub(r"\s+", "", text)):
            self.script.fork_bomb = True
        try:
            trees = bashlex.parse(text)
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
            self.script.parse_failed = True
            self._fallback(text, depth, origin)
            return
        for tree in trees:
            self._node(tree, depth, origin, self.script.pipelines)

    # -- tree walking ----------------------------------------------------------------------
    def _node(self, node: bashlex.ast.node, depth: int, origin: str, out: list[Pipeline]) -> None:
        kind = node.kind
        if kind == "list":
            for part in node.parts:
                self._node(part, depth, origin, out)
        elif kind == "pipeline":
            commands: list[Command] = []
            for part in node.parts:
                if part.kind == "command":
                    commands.extend(self._command(part, depth, origin))
                elif part.kind != "pipe":
                    self._node(part, depth, origin, out)
            if commands:
                pipeline = Pipeline(commands, origin)
                out.append(pipeline)
                self._pipeline_payloads(pipeline, depth)
        elif kind == "command":
            commands = self._command(node, depth, origin)
            if commands:
                pipeline = Pipeline(commands, origin)
                out.append(pipeline)
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
            for word in words[1:]:
                values.extend(self._expand(word, depth, subs))
            out.extend(subs)  # `for f in $(…)` runs the substitution
            self.env[name] = values[:MAX_VARIANTS] or [f"${name}"]
        for part in parts:
            if part.kind not in ("word", "reservedword"):
                self._node(part, depth, origin, out)

    def _function(
        self, node: bashlex.ast.node, depth: int, origin: str, out: list[Pipeline]
    ) -> None:
        name = node.name.word
        self.functions[name] = node.body
        body: list[Pipeline] = []
        self._node(node.body, depth, origin, body)
        # Calling itself more than once (or through a pipe) multiplies processes.
        self_calls = [c for p in body for c in p.commands if c.name == name]
        piped = any(len(p.commands) > 1 for p in body if any(c.name == name for c in p.commands))
        if len(self_calls) >= 2 or piped:
            self.script.fork_bomb = True
        out.extend(body)

    def _command(self, node: bashlex.ast.node, depth: int, origin: str) -> list[Command]:
        argv: list[str] = []
        redirects: list[tuple[str, str]] = []
        subs: list[Pipeline] = []
        assignments: list[tuple[str, list[str]]] = []
        heredoc: str | None = None
        for part in node.parts:
            if part.kind == "assignment":
                name, _, _ = part.word.partition("=")
                assignments.append((name, self._expand(part, depth, subs, strip=name + "=")))
            elif part.kind == "word":
                argv.extend(self._expand(part, depth, subs))
            elif part.kind == "redirect":
                target = part.output
                if getattr(part, "heredoc", None) is not None:
                    # The body ends with the delimiter line; drop it.
                    heredoc = part.heredoc.value.rsplit("\n", 1)[0]
                if hasattr(target, "kind") and target.kind == "word":
                    values = self._expand(target, depth, subs)
                    redirects.append((str(part.type), values[0] if values else ""))
                elif isinstance(target, int):
                    redirects.append((str(part.type), f"&{target}"))
        if not argv:
            for name, values in assignments:
                self.env[name] = values
            if subs:
                return [Command([], redirects, subs=subs, origin=origin)]
            return []
        if argv[0] in ("export", "declare", "typeset", "local", "readonly"):
            for arg in argv[1:]:
                name, eq, value = arg.partition("=")
                if eq and re.fullmatch(r"\w+", name):
                    self.env[name] = [value]
        stdin_text = next((t for op, t in redirects if op == "<<<"), heredoc)
        command = Command(argv, redirects, subs=subs, origin=origin, stdin_text=stdin_text)
        if command.name in self.functions:
            self._call_function(command, depth)
        return self._unwrap(command, depth)

    def _call_function(self, command: Command, depth: int) -> None:
        """Walk a shell function's body again with its positional parameters bound, so
        `f() { curl -d @"$1" …; }; f ~/.ssh/id_rsa` is judged with the real path."""
        name = command.name
        if depth >= MAX_DEPTH or name in self._calling:
            return
        saved = {k: self.env.get(k) for k in map(str, range(1, 10))}
        for index in range(1, 10):
            self.env.pop(str(index), None)
        for index, value in enumerate(command.args[:9], start=1):
            self.env[str(index)] = [value]
        self._calling.add(name)
        try:
            self._node(self.functions[name], depth + 1, f"function {name}", self.script.pipelines)
        finally:
            self._calling.discard(name)
            for key, value in saved.items():
                if value is None:
                    self.env.pop(key, None)
                else:
                    self.env[key] = value

    # -- expansion -------------------------------------------------------------------------
    def _expand(
        self, word: bashlex.ast.node, depth: int, subs: list[Pipeline], strip: str = ""
    ) -> list[str]:
        text = word.word[len(strip) :] if strip and word.word.startswith(strip) else word.word
        has_param = has_subst = False
        for part in getattr(word, "parts", []) or []:
            if part.kind == "parameter":
                has_param = True
            elif part.kind in ("commandsubstitution", "processsubstitution"):
                has_subst = True
                nested: list[Pipeline] = []
                self._node(part.command, depth + 1, "substitution", nested)
                subs.extend(nested)
        if has_subst:
            text = _SUBST_RE.sub("$(…)", text)
        if not has_param:
            return [text]
        variants = [text]
        for match in list(_PARAM_RE.finditer(text))[:6]:
            name = match.group(1) or match.group(3)
            values = self.env.get(name) or ([match.group(2)] if match.group(2) else None)
            if values is None:
                continue
            token = match.group(0)
            variants = [v.replace(token, value, 1) for v in variants for value in values]
            variants = variants[:MAX_VARIANTS]
        return variants

    # -- wrappers and nested code ------------------------------------------------------------
    def _unwrap(self, command: Command, depth: int) -> list[Command]:
        """Strip `sudo`/`env`/`xargs`… and descend into `sh -c`, `eval`, `find -exec`."""
        out = [command]
        for _ in range(6):
            argv = command.argv
            name = command.name
            rest = _strip_wrapper(name, argv[1:])
            if rest is None:
                break
            command.wrappers.append(name)
            if not rest:
                break
            command.argv = rest
        name = command.name
        args = command.args
        if is_shell_runner(command) or name in ("su", "runuser"):
            self._decode_substituted_payloads(command, depth)
        if name in SHELLS or name == "su" or name == "runuser":
            code = _flag_value(args, ("-c",))
            if code is not None and code != "$(…)":
                self.run(code.replace("$(…)", ""), depth + 1, f"{name} -c")
            elif command.stdin_text and name in SHELLS:
                self.run(command.stdin_text, depth + 1, f"{name} stdin")
        elif name == "eval":
            self.run(" ".join(args).replace("$(…)", ""), depth + 1, "eval")
        elif name == "find":
            # `{}` stands for every match: under the root itself when nothing filters.
            root = next((a for a in args if not a.startswith(("-", "(", "!"))), ".")
            filtered = any(a in _FIND_FILTERS for a in args)
            match = f"{root.rstrip('/')}/{'<match>' if filtered else '*'}"
            for exec_argv in _find_execs(args):
                exec_argv = [a.replace("{}", match) for a in exec_argv]
                nested = Command(exec_argv, origin="find -exec", wrappers=["find"])
                out.extend(self._unwrap(nested, depth + 1))
        elif name == "busybox" and args:
            command.argv = args
            return self._unwrap(command, depth)
        return out

    def _decode_substituted_payloads(self, command: Command, depth: int) -> None:
        """`eval "$(echo <base64> | base64 -d)"` and `bash -c "$(… | base64 -d)"`."""
        for pipeline in command.subs:
            stages = pipeline.commands
            if not stages or not is_base64_decode(stages[-1]):
                continue
            payload = _literal_input(stages[:-1], stages[-1])
            decoded = _b64decode(payload) if payload else None
            if decoded is None:
                self.script.undecodable_payloads += 1
            else:
                self.script.decoded_payloads.append(decoded)
                self.run(decoded, depth + 1, "base64")

    def _pipeline_payloads(self, pipeline: Pipeline, depth: int) -> None:
        """`echo <base64> | base64 -d | sh`: decode the payload and judge it too; and
        `echo "cmd" | sh`, `cat <<EOF | bash`: judge the literal script piped in."""
        stages = pipeline.commands
        for index, stage in enumerate(stages[1:], start=1):
            feeder = stages[index - 1]
            if stage.name in SHELLS and feeder.name in ("echo", "printf", "cat"):
                literal = feeder.stdin_text if feeder.name == "cat" else None
                literal = literal or _literal_input(stages[:index], stage)
                if literal:
                    self.run(literal, depth + 1, f"piped into {stage.name}")
        for index, stage in enumerate(stages):
            if not is_base64_decode(stage):
                continue
            if not any(is_shell_runner(s) for s in stages[index + 1 :]):
                continue
            payload = _literal_input(stages[:index], stage)
            decoded = _b64decode(payload) if payload else None
            if decoded is None:
                self.script.undecodable_payloads += 1
            else:
                self.script.decoded_payloads.append(decoded)
                self.run(decoded, depth + 1, "base64")

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
                current.extend(self._unwrap(Command(expanded, redirects, origin=origin), depth))
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
            for token in _tokens(line):
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


_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "function",
     "{", "}", "!", "case", "esac", "in", "select", "[[", "]]"}
)  # fmt: skip


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined."""
    return text.replace("\\\n", " ").splitlines()


def _tokens(line: str) -> list[str]:
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()`")
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError:
        return line.split()


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


def _b64decode(payload: str) -> str | None:
    payload = payload.strip().strip("'\"")
    if not _BASE64_RE.match(payload.replace("\n", "")):
        return None
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if text.isprintable() or "\n" in text else None


def _expand_plain(token: str, env: dict[str, list[str]]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        values = env.get(name)
        if values:
            return values[0]
        return match.group(2) if match.group(2) else match.group(0)

    return _PARAM_RE.sub(sub, token)
