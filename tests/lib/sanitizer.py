"""ASan/UBSan/LSan for tests: whether a binary is instrumented, the runtime options every
test sets for it, and how to find the runtime's reports in a log. Standard library only.

    if instrumented(worker): ...           # links or contains a sanitizer runtime
    env.update(SANITIZER_ENV)               # never the caller's ASAN_OPTIONS
    for line in report_lines(log_text): ... # every line that is part of a report's start
"""
import re
import subprocess

# Set, never inherited: a caller's ASAN_OPTIONS=detect_leaks=0 or an LSAN_OPTIONS
# suppressions file would switch a check off without a trace. halt_on_error: the first
# report ends the process, so it cannot scroll by in a long run; abort_on_error=0: exit
# with a status instead of a core dump; detect_stack_use_after_return: also catch a
# pointer to a returned function's locals. Programs without a sanitizer ignore these.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:abort_on_error=0",
    "LSAN_OPTIONS": "detect_leaks=1:report_objects=1",
}

# Every kind of report the runtimes write: "ERROR: AddressSanitizer: heap-use-after-free",
# "ERROR: LeakSanitizer: detected memory leaks", "WARNING: AddressSanitizer failed to
# allocate", UBSan's "file.c:12:3: runtime error: ...", "LeakSanitizer has encountered a
# fatal error" (it could not run, so no leak was checked), and the closing
# "SUMMARY: AddressSanitizer: ..." lines.
REPORT_RE = re.compile(r"(ERROR|WARNING): \w*Sanitizer|runtime error:|Sanitizer has encountered a fatal error"
                       r"|SUMMARY: \w*Sanitizer|Sanitizer:DEADLYSIGNAL")

# Symbols only an instrumented program refers to (dynamically linked runtime) or contains
# (static runtime).
_RUNTIME_SYMBOL_RE = re.compile(r"\b(__asan_init|__ubsan_handle_\w+|__lsan_\w+|__tsan_init|__msan_init)\b")


def instrumented(binary):
    """Whether binary was built with a sanitizer: its dynamic symbols, or failing that its
    symbol table, name a sanitizer runtime's entry points. Raises if nm cannot read it, so
    an unreadable worker is never taken for a release build."""
    for args in (["nm", "-D", binary], ["nm", binary]):
        r = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        if r.returncode == 0 and _RUNTIME_SYMBOL_RE.search(r.stdout):
            return True
        if r.returncode != 0 and "no symbols" not in r.stderr:
            raise OSError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return False


def report_lines(text):
    """The lines of text that start or sum up a sanitizer report."""
    return [line for line in text.splitlines() if REPORT_RE.search(line)]
