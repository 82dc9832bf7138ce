"""What code given to an interpreter (`python -c`, `perl -e`, `node -e`, `ruby -e`,
`php -r`, awk programs) would do to the system, written as shell commands so the shell
rules judge it: `os.system("rm -rf /")` is `rm -rf /`, `shutil.rmtree('/')` is
`rm -rf /`, `subprocess.run(['rm', '-rf', '/'])` is `rm -rf /`.

Python is parsed with `ast` (never run). The other languages are read with patterns
over their call syntax. A call that runs a command built at run time (`os.system(cmd)`)
cannot be judged from the text; it is reported as `computed`.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field

from deskpilot.safety.shell_words import base64_decoded, decode_escapes

UNKNOWN = "$(…)"  # what the shell rules read as a value known only at run time
MAX_NESTING = 4

# Calls whose first argument is a command line or an argv list.
_PY_EXEC = frozenset(
    {"system", "popen", "popen2", "popen3", "popen4", "check_call", "check_output", "Popen",
     "getoutput", "getstatusoutput", "create_subprocess_shell", "create_subprocess_exec"}
)  # fmt: skip
# Names other libraries use too (asyncio.run(main())): judged when given a literal only.
_PY_EXEC_AMBIGUOUS = frozenset({"run", "call", "spawn"})
# os.exec*/os.spawn*: (path, arg0, args...) or (path, [argv]); spawn* first take a mode.
_PY_OS_EXEC = re.compile(r"^(?:exec|spawn)[lv]p?e?$|^posix_spawnp?$")
_PY_DELETE = {"rmtree": "rm -rf", "remove": "rm", "unlink": "rm", "rmdir": "rmdir",
              "removedirs": "rmdir"}  # fmt: skip
_PY_WRITE_MODES = re.compile(r"[wax+]")


@dataclass
class CodeEffects:
    """Shell commands equivalent to what the code does, and whether it runs commands the
    text does not show."""

    commands: list[str] = field(default_factory=list)
    computed: bool = False


def code_effects(language: str, code: str) -> CodeEffects:
    """The effects of `code` written in `language` ('python', 'perl', 'ruby', 'node',
    'php', 'lua', 'awk', …)."""
    effects = CodeEffects()
    if language == "python":
        _python(code, effects, 0)
    else:
        _generic(language, code, effects, 0)
    return effects


# -- Python ----------------------------------------------------------------------------------


def _python(code: str, effects: CodeEffects, depth: int) -> None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        _generic("python", code, effects, depth)  # e.g. Python 2 syntax
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            _python_call(node, effects, depth)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and _call_name(node.func) in ("b64decode", "decodebytes"):
        payload = _string(node.args[0]) if node.args else None
        return base64_decoded(payload) if payload is not None else None
    if isinstance(node, ast.Call) and _call_name(node.func) == "decode" and not node.args:
        return _string(node.func.value) if isinstance(node.func, ast.Attribute) else None
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        try:
            return node.value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _argv(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.List | ast.Tuple):
        items = [_string(e) for e in node.elts]
        return [i if i is not None else UNKNOWN for i in items] if items else None
    return None


def _python_call(node: ast.Call, effects: CodeEffects, depth: int) -> None:
    name = _call_name(node.func)
    args = node.args
    if name in ("eval", "exec") and args:
        nested = _string(args[0])
        if nested is not None and depth < MAX_NESTING:
            _python(nested, effects, depth + 1)
        return
    if name in _PY_EXEC or name in _PY_EXEC_AMBIGUOUS:
        _python_exec(name, args, effects)
    elif _PY_OS_EXEC.match(name):
        _python_os_exec(name, args, effects)
    elif name in _PY_DELETE and args:
        target = _string(args[0])
        effects.commands.append(f"{_PY_DELETE[name]} {_quote(target)}")
    elif name in ("move", "rename", "replace", "copy", "copyfile", "copytree") and len(args) >= 2:
        verb = "mv" if name in ("move", "rename", "replace") else "cp -r"
        effects.commands.append(f"{verb} {_quote(_string(args[0]))} {_quote(_string(args[1]))}")
    elif name == "chmod" and len(args) >= 2:
        mode = args[1].value if isinstance(args[1], ast.Constant) else None
        if isinstance(mode, int):
            effects.commands.append(f"chmod {mode:o} {_quote(_string(args[0]))}")
    elif name == "open" and args and isinstance(node.func, ast.Name):
        mode = _string(args[1]) if len(args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg == "mode":
                mode = _string(keyword.value)
        verb = "tee" if mode and _PY_WRITE_MODES.search(mode) else "cat"
        effects.commands.append(f"{verb} {_quote(_string(args[0]))}")


def _python_exec(name: str, args: list[ast.expr], effects: CodeEffects) -> None:
    line = _string(args[0]) if args else None
    argv = _argv(args[0]) if args else None
    if line is not None:
        effects.commands.append(line)
    elif argv is not None:
        effects.computed = effects.computed or argv[0] == UNKNOWN
        effects.commands.append(_join(argv))
    elif name not in _PY_EXEC_AMBIGUOUS:
        effects.computed = True


def _python_os_exec(name: str, args: list[ast.expr], effects: CodeEffects) -> None:
    rest = args[1:] if name.startswith("spawn") else args  # spawn* take a mode first
    rest = rest[1:]  # the program's path: arg0 (or the argv list) names it again
    if "v" in name.removeprefix("exec").removeprefix("spawn") or name.startswith("posix"):
        argv = _argv(rest[0]) if rest else None
    else:
        strings = rest[:-1] if name.endswith("e") else rest
        argv = [s if (s := _string(a)) is not None else UNKNOWN for a in strings] or None
    if argv is None or argv[0] == UNKNOWN:
        effects.computed = True
    if argv:
        effects.commands.append(_join(argv))


def _join(argv: list[str]) -> str:
    return " ".join(a if a == UNKNOWN else shlex.quote(a) for a in argv)


def _quote(value: str | None) -> str:
    return UNKNOWN if value is None else shlex.quote(value)


# -- other languages -------------------------------------------------------------------------

_STRING = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\$]|\\.|\$(?!\{))*`)"""
_LIST = rf"""[\[(]\s*{_STRING}(?:\s*,\s*{_STRING})*\s*,?\s*[\])]"""
# Calls that run a command line or argv: system (Perl, Ruby, PHP, awk), exec*, spawn*,
# popen, backtick-like operators, Node's child_process.
_EXEC_CALL = re.compile(
    r"(?<![\w$])(?P<name>system|exec|execSync|execFile|execFileSync|spawn|"
    r"spawnSync|fork|popen|popen3|popen2|capture2|capture2e|capture3|shell_exec|passthru|"
    r"proc_open|pcntl_exec|os\.execute|io\.popen|syscall)\b\s*(?P<open>\(?)\s*"
)
_BACKTICK_OPS = re.compile(
    r"qx\s*(?:\{(?P<b>[^}]*)\}|\((?P<p>[^)]*)\)|\[(?P<s>[^\]]*)\]|(?P<d>[/|!])(?P<dv>.*?)(?P=d))"
    r"|%x\s*(?:\{(?P<xb>[^}]*)\}|\((?P<xp>[^)]*)\)|\[(?P<xs>[^\]]*)\])"
)
_DELETE_CALL = re.compile(
    r"(?<![\w$])(?P<name>rmtree|remove_tree|rm_rf|rm_r|rmSync|"
    r"rmdirSync|unlinkSync|unlink|rmdir|delete|rm)\b"
)
_RECURSIVE_DELETES = frozenset({"rmtree", "remove_tree", "rm_rf", "rm_r"})
_NODE_RECURSIVE = re.compile(r"recursive\s*:\s*true")
_EVAL_CALL = re.compile(r"(?<![\w$])eval\s*\(?\s*(?P<arg>" + _STRING + ")")


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "'":
        return re.sub(r"\\([\\'])", r"\1", body)
    return decode_escapes(body)


_STRING_RE = re.compile(_STRING, re.S)


def _masked(code: str) -> str:
    """`code` with the insides of string literals blanked, so call names are looked for
    in code only (`system("rm", …)` must not read the string "rm" as a call)."""
    return _STRING_RE.sub(
        lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], code
    )


def _generic(language: str, code: str, effects: CodeEffects, depth: int) -> None:
    masked = _masked(code)
    for match in _EXEC_CALL.finditer(masked):
        rest = code[match.end() :]
        listed = re.match(_LIST, rest)
        single = re.match(_STRING, rest)
        program_and_list = re.match(rf"({_STRING})\s*,\s*({_LIST})", rest)
        if listed and (match.group("open") or rest.startswith("[")):
            argv = [_unquote(t) for t in re.findall(_STRING, listed.group(0))]
            effects.commands.append(shlex.join(argv))
        elif program_and_list:  # Node's spawn('rm', ['-rf', '/']), execFile(…)
            argv = [_unquote(program_and_list.group(1))]
            argv += [_unquote(t) for t in re.findall(_STRING, program_and_list.group(2))]
            effects.commands.append(shlex.join(argv))
        elif single:
            # Perl/Ruby/PHP `system("prog", "arg", …)` passes an argv; one string is a line.
            strings = [single.group(0)]
            tail = rest[single.end() :]
            while more := re.match(r"\s*,\s*(" + _STRING + ")", tail):
                strings.append(more.group(1))
                tail = tail[more.end() :]
            values = [_unquote(s) for s in strings]
            effects.commands.append(values[0] if len(values) == 1 else shlex.join(values))
        elif match.group("name") not in ("exec", "delete", "fork") or match.group("open"):
            effects.computed = True
    if language == "awk":
        # `"cmd" | getline` runs cmd; `print "cmd" | "sh"` feeds a shell.
        for match in re.finditer(r"(" + _STRING + r")\s*\|\s*getline", code):
            effects.commands.append(_unquote(match.group(1)))
        for match in re.finditer(r"print\s+(" + _STRING + r")\s*\|\s*\"(?:ba)?sh\"", code):
            effects.commands.append(_unquote(match.group(1)))
    if language in ("perl", "ruby", "php"):
        for body in re.findall(r"`((?:[^`\\]|\\.)*)`", code):
            effects.commands.append(body)  # backticks run a shell
        for match in _BACKTICK_OPS.finditer(code):
            effects.commands.append(next(g for g in match.groups() if g is not None))
    for match in _DELETE_CALL.finditer(masked):
        name = match.group("name")
        found = re.match(r"\s*\(?\s*(" + _STRING + ")", code[match.end("name") :])
        arg = found.group(1) if found else None
        if name in ("delete", "rm", "unlink", "rmdir") and arg is None:
            continue  # `delete obj.key`, `rm` as an identifier: not a file deletion
        window = code[match.end("name") : match.end("name") + 120]
        recursive = name in _RECURSIVE_DELETES or (
            name == "rmSync" and _NODE_RECURSIVE.search(window)
        )
        target = shlex.quote(_unquote(arg)) if arg else UNKNOWN
        effects.commands.append(f"{'rm -rf' if recursive else 'rm'} {target}")
    if depth < MAX_NESTING:
        for match in _EVAL_CALL.finditer(masked):
            found = re.match(_STRING, code[match.start("arg") :])
            if found:
                _generic(language, _unquote(found.group(0)), effects, depth + 1)
