"""The checks behind the visible tests, and the words every test uses to name a mistake.

Each visible test cell calls one line:

    visible_tests("gradient_check", globals())

which runs the same checks that grade your work, on fixed cases: those of Part 1 are written
below (the notebook's worked example first), those of Part 2 are listed in gc_feedback_cases.json.
When your work is graded the checks run again on fresh random cases, with the same sentences: a
mistake the grade would find is named here first.

A wrong value fails the test cell (0 points). A mistake in a minor part of a function (POINTS:
the print_msg message, arguments left unchanged) costs that part's points only: the cell prints
why and shows the points it keeps as its result, which nbgrader counts as partial credit.

This file computes no gradient. The numbers each fixed case should give, and the numbers that
common mistakes give on it, are listed in gc_feedback_cases.json, written by the course's tools.
"""
import contextlib
import copy
import io
import json
import re
import sys
import textwrap
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

THRESHOLD = 2e-7          # a relative difference below this means "the gradient is correct"
NOISE = 1e-6              # below this, a relative difference is round-off: its digits carry no meaning
MATCH_RTOL, MATCH_ATOL = 1e-6, 1e-12   # how close a number must be to a mistake's number to name it
VERDICT_CASES = (0.0, 1.2e-7, 3e-7, 0.3)   # print_msg is tried at these differences, two on each side
CASES_FILE = Path(__file__).with_name("gc_feedback_cases.json")


# --- failing, in words ------------------------------------------------------------------------------

class CheckFailed(AssertionError):
    """A test failed; the message is the diagnosis that the student reads."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the sentence, wrapped to read without
        # scrolling, and no file of the tests'. When the student's function raised, the lines of
        # the student's own code come first, to show where.
        lines = []
        if self.__cause__ is not None and self.__cause__.__traceback__ is not None:
            own = [frame for frame in traceback.extract_tb(self.__cause__.__traceback__) if frame.filename != __file__]
            lines = ["Traceback of your code (most recent call last):"] + "".join(traceback.format_list(own)).splitlines()
        return lines + textwrap.wrap(f"{type(self).__name__}: {self}", 100)


def fail(message):
    raise CheckFailed(message)


# --- points: each function's parts ------------------------------------------------------------------

# What each graded function's test cell is worth, part by part. A wrong value costs the whole
# function; a mistake in a minor part costs that part's points only, and the tests go on. A check
# that changes the parameters it is given counts as a wrong value: its perturbations then pile up,
# and its numbers are wrong (how wrong depends on the cost, so it would not be graded alike).
POINTS = {
    "forward_propagation": {"value": 5},
    "backward_propagation": {"value": 5},
    "gradient_check": {"value": 15, "print_msg": 5},
    "gradient_check_n": {"value": 20, "print_msg": 5},
    "gradient_check_by_parameter": {"value": 20},
    "backward_propagation_n_fixed": {"value": 20, "inputs": 5},
}
PARTS = {   # the minor parts, in words (the value is never partly lost)
    "print_msg": "its message: the verdict with print_msg=True, nothing printed without it",
    "inputs": "its arguments left as they were given",
}


class Marks:
    """What the tests of one function found wrong in its minor parts: lost = {part: sentence}."""

    def __init__(self, name):
        self.name, self.lost = name, {}

    def lose(self, part, sentence):
        self.lost.setdefault(part, sentence)   # the first sentence of a part is the one shown

    def silent(self, printed, kwargs):
        """Without print_msg=True a check prints nothing."""
        if printed.strip() and not kwargs.get("print_msg"):
            self.lose("print_msg", f"{self.name} printed {printed.strip()[:80]!r} although print_msg was False: "
                                   "print only when asked.")

    @contextlib.contextmanager
    def part(self, part):
        """Checks of one minor part: a failure costs that part, then the tests go on."""
        try:
            yield
        except CheckFailed as failure:
            self.lose(part, str(failure))

    @contextlib.contextmanager
    def value(self):
        """Checks of the value: a failure fails the function. A changed input is named first, being
        the likeliest reason for a wrong value."""
        try:
            yield
        except CheckFailed as failure:
            if "inputs" in self.lost:
                raise CheckFailed(f"{self.lost['inputs']} {failure}") from failure.__cause__
            raise


def points_lost(name, lost):
    """The points a function loses for the minor parts in `lost` (its value being right)."""
    return sum(POINTS[name][part] for part in lost)


def points_kept(name, lost):
    """The points a function keeps when the minor parts in `lost` are wrong (its value being right)."""
    return sum(POINTS[name].values()) - points_lost(name, lost)


def partial_credit(name, lost, tests):
    """The lines a test cell prints when only minor parts are wrong. tests -- "visible" or "hidden"."""
    total = sum(POINTS[name].values())
    lines = [f"{name} returns the right values in the {tests} tests, and keeps {points_kept(name, lost):g} of its "
             f"{total:g} points. It loses:"]
    for part, sentence in lost.items():
        lines += textwrap.wrap(f"{POINTS[name][part]:g} points for {PARTS[part]}. {sentence}", 100,
                               initial_indent="- ", subsequent_indent="  ")
    return "\n".join(lines)


def call(function, *args, **kwargs):
    """Call a student's function; return (result, printed text).

    Printing is captured and warnings silenced (a cell that writes to stderr fails under nbgrader);
    an exception becomes a sentence that names the function.
    """
    name = getattr(function, "__name__", "the function")
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            warnings.simplefilter("ignore")
            result = function(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError as error:
        raise CheckFailed(not_implemented(name, raised_in(error))) from error
    except RecursionError as error:
        raise CheckFailed(f"{name} recursed without end (RecursionError). Does it call itself?") from error
    except Exception as error:  # any mistake in student code becomes a diagnosis
        raise CheckFailed(f"{name} raised {type(error).__name__}: {error}") from error
    return result, buffer.getvalue()


def raised_in(error):
    """The name of the function whose own code raised `error` (the innermost frame), or None."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame.tb_frame.f_code.co_name if frame is not None else None


def not_implemented(name, raiser=None):
    """The sentence for a call of `name` that raised NotImplementedError in function `raiser`: a stub
    left as released, in the function itself or in a helper it calls."""
    if isinstance(raiser, str) and raiser != name and raiser.isidentifier() and len(raiser) <= 80:
        return (f"{name} calls {raiser}, which still raises NotImplementedError, as released: write {raiser} "
                f"too; {name} and the cells below it rely on it.")
    return f"{name} is not implemented yet: it still raises NotImplementedError."


@contextlib.contextmanager
def substituted(namespaces, **replacements):
    """Rebind names in the given namespaces (dicts) for a while, restoring them afterwards.

    A student's function looks up helpers such as forward_propagation by name when it runs, so
    rebinding the name lets a test run it on a cost whose gradient is known.
    """
    missing = object()
    saved = [(ns, {name: ns.get(name, missing) for name in replacements}) for ns in namespaces]
    try:
        for ns in namespaces:
            ns.update(replacements)
        yield
    finally:
        for ns, old in saved:
            for name, value in old.items():
                if value is missing:
                    ns.pop(name, None)
                else:
                    ns[name] = value


def shown_apart(value, expected, least=4):
    """(value, expected) as text, with as many digits as it takes to tell them apart (least to 17)."""
    for digits in range(least, 18):
        shown = f"{value:.{digits}g}", f"{expected:.{digits}g}"
        if shown[0] != shown[1]:
            break
    return shown


def apart(value, expected, joint=" instead of "):
    """'value instead of expected' with as many digits as it takes to tell them apart."""
    return joint.join(shown_apart(value, expected))


def snapshot(*values):
    """Deep copies of the arguments, to detect a function that changes its inputs."""
    return copy.deepcopy(values)


# How far an argument may drift and still count as unchanged: the round-off of putting a shifted
# entry back by arithmetic (+eps, -2 eps, +eps moves a value of size 1 by up to 4.4e-16). One rule
# for every exercise: work that restores its arguments to within round-off has not changed them.
ROUND_OFF_DRIFT = 8 * np.finfo(float).eps


def unchanged(old, new):
    """Whether `new` holds the values of `old` (arrays or numbers), up to ROUND_OFF_DRIFT."""
    try:
        old, new = np.asarray(old), np.asarray(new)
        if old.shape != new.shape:
            return False
        if np.array_equal(old, new):
            return True
        if old.dtype.kind not in "fc" or new.dtype.kind not in "biufc":
            return False
        with np.errstate(all="ignore"):
            return bool(np.all(np.abs(new - old) <= ROUND_OFF_DRIFT * np.maximum(np.abs(old), 1.0)))
    except (TypeError, ValueError):
        return False


def changed_argument(before, after, names):
    """Name of the first argument (or dict entry) that differs between two snapshots beyond round-off, or None."""
    for name, old, new in zip(names, before, after):
        if isinstance(old, dict):
            for key in old:
                if not isinstance(new, dict) or key not in new or not unchanged(old[key], new[key]):
                    return f"{name}['{key}']"
        elif not unchanged(old, new):
            return name
    return None


def inputs_changed(name, before, after, names=("parameters", "gradients", "X", "Y")):
    """The sentence for a call that changed its arguments, or None."""
    changed = changed_argument(before, after, names)
    if changed:
        return f"{name} changed its argument {changed}. Perturb copies; never change the inputs."
    return None


def close(actual, expected, rtol, atol=0.0):
    return bool(abs(actual - expected) <= atol + rtol * abs(expected))


def matches(value, target):
    """Whether two relative differences are the same number, or both round-off."""
    if not np.isfinite(target):
        return False
    if 0 <= value < NOISE and 0 <= target < NOISE:
        return True
    return bool(abs(value - target) <= MATCH_ATOL + MATCH_RTOL * abs(target))


def require_float(value, name):
    """The value as a float if it is a Python float (NumPy's float64 is one); otherwise fail, with
    advice that can work: float(...) only for a single number."""
    if isinstance(value, bool) or not isinstance(value, float):
        if value is None:
            fail(f"{name} returned None: is its return statement missing, or inside an if that this call did not "
                 "take? Return the result in every case.")
        kind = type(value).__name__
        if isinstance(value, np.ndarray) and value.size > 1:
            fail(f"{name} should return one number, a Python float, but it returned an array of shape {value.shape}, "
                 "one value per entry. The relative difference is a single number for the whole vectors: compute "
                 "it with norms (np.linalg.norm), not entry by entry.")
        if isinstance(value, (int, np.number)) or (isinstance(value, np.ndarray) and value.size == 1):
            shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
            fail(f"{name} should return a Python float, but it returned a {kind}{shape}. Wrap the result in float(...).")
        fail(f"{name} should return a Python float, but it returned a {kind}.")
    return float(value)


def require_number(value, name):
    """The value as a float if it is a single real number of any kind; otherwise fail."""
    if value is None:
        fail(f"{name} returned None: did you forget the return statement or the assignment before it?")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        fail(f"{name} should return a number, but it returned a {type(value).__name__}.")
    if array.size != 1:
        fail(f"{name} should return one number, but it returned an array of shape {array.shape}.")
    return float(array.reshape(-1)[0])


# --- forward_propagation and backward_propagation ---------------------------------------------------

NEAR_MISS = ("close, but not equal: do not round the result, and compute in double precision "
             "(Python floats or float64, not float32).")
# {what the student did: what it gives at (x, theta)}, tried in this order when an answer is wrong.
FORWARD_MISTAKES = {
    "you returned x; J is theta * x.": lambda x, theta: x,
    "you returned theta; J is theta * x.": lambda x, theta: theta,
    "you added x and theta; J is their product.": lambda x, theta: x + theta,
    "you divided x by theta; J is the product theta * x.": lambda x, theta: x / theta,
    "you divided theta by x; J is the product theta * x.": lambda x, theta: theta / x,
    "the sign is wrong.": lambda x, theta: -theta * x,
}
BACKWARD_MISTAKES = {
    "you returned theta; the derivative of theta * x with respect to theta is x.": lambda x, theta: theta,
    "you returned J = theta * x itself; its derivative with respect to theta is x.": lambda x, theta: theta * x,
    "the derivative of theta * x is x, not 2x.": lambda x, theta: 2 * x,
    "you returned 1; the derivative of theta * x with respect to theta is x.": lambda x, theta: 1.0,
    "the sign is wrong.": lambda x, theta: -x,
}


def check_scalar_function(evaluate, name, correct, mistakes, inputs):
    """Compare a function of (x, theta) with `correct` on every (x, theta) of `inputs`.

    evaluate(x, theta) -- what the student's function returns
    mistakes -- {sentence: function of (x, theta)}, to name what a wrong answer did
    """
    answers = [require_number(evaluate(x, theta), name) for x, theta in inputs]
    if len(set(answers)) == 1:
        fail(f"{name} returns {answers[0]:.6g} whatever its inputs: compute the result from x and theta "
             "instead of using a fixed number.")
    for (x, theta), value in zip(inputs, answers):
        expected = correct(x, theta)
        if close(value, expected, rtol=1e-9, atol=1e-12):
            continue
        known = [sentence for sentence, mistake in mistakes.items()
                 if close(value, mistake(x, theta), rtol=1e-9, atol=1e-12)]
        if not known and close(value, expected, rtol=0.05):
            known = [NEAR_MISS]
        fail(f"{name}(x={x:.4g}, theta={theta:.4g}) returned {apart(value, expected)}" +
             (f": {known[0]}" if known else "."))


def check_forward_propagation(evaluate, inputs):
    """The tests of forward_propagation: raise CheckFailed, or return {} (it has no minor part)."""
    check_scalar_function(evaluate, "forward_propagation", lambda x, theta: theta * x, FORWARD_MISTAKES, inputs)
    return {}


def check_backward_propagation(evaluate, inputs):
    """The tests of backward_propagation: raise CheckFailed, or return {} (it has no minor part)."""
    check_scalar_function(evaluate, "backward_propagation", lambda x, theta: x, BACKWARD_MISTAKES, inputs)
    return {}


# --- relative differences ---------------------------------------------------------------------------

def agrees(value, expected, rtol):
    """Signal must agree to rtol; round-off (below NOISE) only needs to be round-off too."""
    if expected < NOISE:
        return 0 <= value < NOISE
    return close(value, expected, rtol, 1e-12)


ROUNDED = ("Your function rounds its result: return the relative difference as it is computed. Rounding "
           "changes it, and the tests compare more digits than any rounding keeps.")
NEAR_DIFFERENCE = ("Your number is close to the right one but not equal: do not round, and compute in double "
                   "precision (Python floats or float64, not float32).")


def rounded_to(value, right):
    """The decimals that `value` keeps if it is the signal `right` rounded (and so differs from it), else None.

    A correct value differs from `right` by round-off only, and a float64 that happens to hold a
    number of 9 decimals or fewer is rare (below 1 in 5 million for a value below 1): so this names
    a round(..., 9) or coarser even where the rounded number is within the tests' tolerance, and
    practically never a correct value."""
    if not (right >= NOISE and np.isfinite(value)) or value == 0.0 or close(value, right, rtol=1e-12):
        return None   # 0 has diagnoses of its own (a gradient compared with itself, an approximation of 0)
    for digits in range(1, 10):
        if value == round(value, digits) and abs(value - right) <= 0.5001 * 10.0 ** -digits:
            return digits
    return None


def compare_differences(values, expected, steps, rtol, context, fallback, explain, returned="your function returned"):
    """Fail with a diagnosis unless every value is the relative difference it should be, unrounded.

    values, expected, steps -- per case: what the student's function returned, the right value,
              and the epsilon it was called with
    explain() -- the sentence naming the mistake that gives the student's values, or None
    fallback -- advice when no known mistake gives them
    returned -- the words before the student's number
    """
    for value, right, eps in zip(values, expected, steps):
        digits = rounded_to(value, right)
        if agrees(value, right, rtol) and digits is None:
            continue
        explanation = ROUNDED if digits is not None else explain()
        if not explanation and len(set(values)) == 1:
            explanation = (f"It returns {value!r} whatever its inputs: compute the result from the arguments "
                           "instead of using a fixed number.")
        if not explanation and right >= NOISE and close(value, right, rtol=1e-3):
            explanation = NEAR_DIFFERENCE
        shown, should = shown_apart(value, right, least=6)
        fail(f"{context} (epsilon={eps:.3g}), the relative difference should be {should}, but {returned} {shown}. " +
             (explanation or fallback))


def verdict_words(text):
    """The printed message without its numbers, so that only the verdict is compared."""
    return " ".join(word for word in text.replace("=", " ").split() if not any(ch.isdigit() for ch in word))


# --- the message: what a verdict says ----------------------------------------------------------------
# The wording of a check's message is free, in any language. What it says is read from the words
# below: a pass ("correct", "passes", "richtig", "正确", ...) or a fail ("wrong", "mistake", "falsch",
# "错误", ...), turned around by a negation just before ("not correct", "n'est pas correct", "no es
# correcto", "keine Fehler", "没有错误") or, in German, just after ("stimmt nicht"). A message with
# no such word, or with words of both kinds, is not read: it need only differ between a pass and a
# fail. So a message the tests cannot read never costs points; one that says the opposite does.
PASS_STEMS = ("correct", "corret", "pass", "success", "succeed", "perfect", "valid", "válid", "accurate", "agree",
              "match", "réussi", "reussi", "fonctionne", "funciona", "funziona", "funktionier", "korrekt", "richtig",
              "bestanden", "erfolgreich", "stimmt", "fehlerfrei", "einwandfrei", "éxito", "exito", "aprobad", "aprovad",
              "sucesso", "superat", "riuscit", "giust", "правильн", "верн", "успешн")
PASS_WORDS = {"right", "ok", "okay", "good", "fine", "works", "worked", "bien", "bueno", "buena", "bon", "bonne",
              "juste", "bom", "boa", "certo", "certa", "buono", "buona", "bene", "gut", "true", "vrai", "verdadero",
              "wahr", "vero", "verdadeiro", "yes", "oui", "sí", "ja", "sim", "да", "✓", "✔", "✅", "☑", "👍"}
FAIL_STEMS = ("wrong", "incorrect", "incorret", "fail", "mistake", "erro", "erró", "erreur", "bug", "problem", "problè",
              "invalid", "inaccurate", "disagree", "mismatch", "broken", "fault", "suspicious", "unsuccess", "faux",
              "fausse", "échec", "echec", "échou", "echou", "bogue", "fallo", "falla", "falló", "equivocad", "falsch",
              "fehler", "inkorrekt", "fehlgeschlag", "errad", "errat", "falha", "falhou", "sbagliat", "scorrett",
              "fallit", "неправильн", "неверн", "ошибк", "ошибоч")
FAIL_WORDS = {"bad", "mal", "false", "falso", "falsa", "✗", "✘", "❌", "✖", "👎"}
# Words that turn the next verdict word (within three words of the same clause) around.
NEGATORS = {"not", "no", "never", "nothing", "none", "without", "ne", "n", "pas", "rien", "sans", "jamais", "non",
            "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nichts", "ohne", "nie", "sin", "nunca", "nada",
            "ningún", "ninguna", "ningun", "não", "nao", "sem", "nenhum", "nenhuma", "senza", "niente", "nulla",
            "nessun", "nessuno", "nessuna", "не", "нет", "без"}
# Words that turn the verdict word just before them around: "stimmt nicht", "error free".
AFTER_NEGATORS = {"nicht", "free", "frei"}
# Negations that are an answer when no verdict word follows them: "Correct? No".
ANSWERS = {"no", "non", "nein", "não", "nao", "nope", "нет"}
# Phrases that hold a verdict word without being a verdict: removed before reading.
NOT_VERDICTS = ("relative error", "relative errors", "approximation error", "rounding error", "round-off error",
                "roundoff error", "numerical error", "erreur relative", "error relativo", "errore relativo",
                "erro relativo", "relativer fehler", "relative fehler", "relativen fehler", "backward pass",
                "forward pass", "backward-pass", "forward-pass", "good luck",
                "bonne chance", "buena suerte", "boa sorte", "buona fortuna", "viel glück", "相对误差", "相對誤差")
# "correct your gradient": an order, not a verdict.
IMPERATIVE_AFTER = {"your", "the", "it", "this", "that", "them", "my"}
# Languages written without spaces: phrases found anywhere, the longest first ("不正确" before "正确").
PHRASES = sorted({"正确": 1, "正確": 1, "通过": 1, "通過": 1, "没问题": 1, "没有问题": 1, "沒問題": 1, "无误": 1,
                  "無誤": 1, "没有错误": 1, "沒有錯誤": 1, "没有错": 1, "无错误": 1, "成功": 1, "正しい": 1, "合格": 1,
                  "错误": -1, "錯誤": -1, "不正确": -1, "不正確": -1, "错了": -1, "失败": -1, "失敗": -1, "有问题": -1,
                  "有問題": -1, "有误": -1, "有誤": -1, "不对": -1, "不對": -1, "未通过": -1, "未通過": -1, "没通过": -1,
                  "没有通过": -1, "不通过": -1, "出错": -1, "間違": -1, "誤り": -1, "正しくない": -1, "不合格": -1}.items(),
                 key=lambda item: -len(item[0]))
TOKENS = re.compile(r"[^\W\d_]+|[.!?;:,。！？；：，、]|[✓✔✅☑👍✗✘❌✖👎]")
CLAUSE_ENDS = set(".!?;:,。！？；：，、")


def _phrase_signs(text):
    """+1 or -1 for each verdict phrase of PHRASES in text, the longest first, and the text without them."""
    signs, rest, i = [], [], 0
    while i < len(text):
        for phrase, sign in PHRASES:
            if text.startswith(phrase, i):
                signs.append(sign)
                rest.append(" ")
                i += len(phrase)
                break
        else:
            rest.append(text[i])
            i += 1
    return signs, "".join(rest)


def _word_sign(word, following):
    """+1 for a pass word, -1 for a fail word, 0 for any other."""
    if word in PASS_WORDS:
        return 1
    if word in FAIL_WORDS:
        return -1
    if word.startswith(PASS_STEMS):
        return 0 if word == "correct" and following in IMPERATIVE_AFTER else 1
    if word.startswith(FAIL_STEMS):
        return -1
    return 0


def verdict_meaning(text):
    """What a printed message says: True (the gradient passes), False (it fails), or None when the
    message cannot be read (no verdict word, or words of both kinds)."""
    text = text.lower()
    for phrase in NOT_VERDICTS:
        text = text.replace(phrase, " ")
    signs, text = _phrase_signs(text)
    tokens = TOKENS.findall(re.sub(r"n['’]t\b", " not", text)) + ["."]
    scope, last, negation = 0, None, None   # words a negation still reaches; the last verdict word's position
    for position, token in enumerate(tokens[:-1]):
        if token in AFTER_NEGATORS and last == position - 1:
            signs[-1] = -signs[-1]
            scope = 0
            continue
        if token in NEGATORS:
            scope, negation = 3, token
            continue
        sign = 0 if token in CLAUSE_ENDS else _word_sign(token, tokens[position + 1])
        if sign:
            signs.append(-sign if scope else sign)
            scope, last = 0, position
        elif scope:
            scope = 0 if token in CLAUSE_ENDS else scope - 1
            if scope == 0 and negation in ANSWERS:   # "Correct? No": the negation answers
                signs.append(-1)
    if scope and negation in ANSWERS:
        signs.append(-1)
    if not signs or len(set(signs)) > 1:
        return None
    return signs[0] > 0


def check_print_msg(name, run):
    """With print_msg=True, one verdict for every difference below THRESHOLD and another above it,
    each saying what it should where the tests can read it (verdict_meaning).

    run(i, r) -- the text the student's check prints with print_msg=True on its i-th verdict case,
                 whose relative difference is r
    """
    printed = {}
    for i, r in enumerate(VERDICT_CASES):
        printed[r] = run(i, r)
        if not printed[r].strip():
            fail(f"{name}(..., print_msg=True) printed nothing: print whether the gradient passes the check.")
    verdicts = {r: verdict_words(text) for r, text in printed.items()}
    below = {verdicts[r] for r in VERDICT_CASES if r < THRESHOLD}
    above = {verdicts[r] for r in VERDICT_CASES if r > THRESHOLD}
    if len(below) > 1 or len(above) > 1:
        fail(f"With print_msg=True the message must depend only on the verdict: one message for every "
             f"difference below {THRESHOLD:g} and another for every difference above it.")
    if below == above:
        fail(f"With print_msg=True, {name} prints the same verdict for a correct gradient and a wrong one.")
    for r, text in printed.items():
        says = verdict_meaning(text)
        if says is not None and says != (r < THRESHOLD):
            fail(f"With print_msg=True, {name} prints {text.strip()[:80]!r} for a relative difference of {r:g}, "
                 f"{'below' if r < THRESHOLD else 'above'} {THRESHOLD:g}: the verdict is reversed. Below "
                 f"{THRESHOLD:g} the message must say that the gradient is correct, above it that it is wrong.")


RETURN_IN_PRINT = ("{name} returns None unless print_msg is True: its return statement sits inside if print_msg:. "
                   "Return the difference whatever print_msg is; print_msg only decides whether to print.")


def returns_only_when_printing(name, result, kwargs, printing):
    """Fail with RETURN_IN_PRINT if a call without print_msg returned None and the same call with
    print_msg=True (printing(), its result) returns a value."""
    if result is not None or kwargs.get("print_msg"):
        return
    try:
        again = printing()
    except CheckFailed:
        return
    if again is not None:
        fail(RETURN_IN_PRINT.format(name=name))


# --- gradient_check ---------------------------------------------------------------------------------

IGNORED_BACKWARD = "You did not call backward_propagation: grad must come from it, not be computed in the check."
BACKWARD_AT_PLUS = ("grad is the derivative at theta + epsilon: call backward_propagation at theta itself, the point "
                    "being checked, not at a shifted one.")
BACKWARD_AT_MINUS = ("grad is the derivative at theta - epsilon: theta was shifted and not put back before "
                     "backward_propagation was called, or the shifted value was passed to it. Call "
                     "backward_propagation(x, theta) with the theta you were given, and shift new variables "
                     "(theta_plus = theta + epsilon), never theta itself.")
CUBIC_CONTEXT = "For J = x theta^3, whose central difference is known"
CUBIC_FALLBACK = "Check the central difference and the relative-difference formula step by step."


@dataclass
class GradientCheckCases:
    """The cases gradient_check is tried on. Costs are J = a theta^p, written (a, p); derivatives
    scale * p a theta^(p-1), written (a, p, scale): scale 1 is the exact derivative.

    signal -- (x, theta, eps, scale) for J = x theta^3: the relative difference is signal
    linear -- (x, theta) for J = theta x with its exact derivative, at the default step
    default -- (x, theta) for J = x theta^3 with its exact derivative, at the default step
    verdicts -- (x, theta) for each of VERDICT_CASES, on J = theta x
    zero_theta -- theta for x = 0, where both gradients are 0
    """
    signal: list
    linear: list
    default: tuple
    verdicts: list
    zero_theta: float


def check_gradient_check(run, cases, expected, explain):
    """The tests of gradient_check.

    run(x, theta, cost, derivative, **kwargs) -- (result, printed) of the student's gradient_check
        with forward_propagation and backward_propagation standing in as `cost` and `derivative`
    expected -- the right relative difference of each of cases.signal
    explain(values) -- the sentence naming the mistake that gives `values` on cases.signal, or None

    Raises CheckFailed for a wrong value; returns {minor part: sentence} of what else is wrong.
    """
    name = "gradient_check"
    marks = Marks(name)

    def silent(x, theta, cost, derivative, **kwargs):
        result, printed = run(x, theta, cost, derivative, **kwargs)
        marks.silent(printed, kwargs)
        returns_only_when_printing(name, result, kwargs,
                                   lambda: run(x, theta, cost, derivative, **kwargs, print_msg=True)[0])
        return require_float(result, name)

    with marks.value():
        _gradient_check_values(name, silent, run, cases, expected, explain)

    # print_msg. The derivative (1 + s) x with s = 2r / (1 - r) gives relative difference r on the
    # linear cost, whose central difference is exact to about 1e-9.
    def verdict(i, r):
        x, theta = cases.verdicts[i]
        return run(x, theta, (x, 1), (x, 1, 1 + 2 * r / (1 - r)), print_msg=True)[1]
    with marks.part("print_msg"):
        check_print_msg(name, verdict)
    return marks.lost


def _gradient_check_values(name, silent, run, cases, expected, explain):
    # 1. J = x theta^3 and a large step, with right and deliberately wrong derivatives: every number is signal.
    values = [silent(x, theta, (x, 3), (x, 3, scale), epsilon=eps) for x, theta, eps, scale in cases.signal]
    compare_differences(values, expected, [eps for _, _, eps, _ in cases.signal], 1e-6, CUBIC_CONTEXT,
                        CUBIC_FALLBACK, lambda: explain(values))

    # 2. The notebook's model with its true derivative at the default step: tiny.
    for x, theta in cases.linear:
        value = silent(x, theta, (x, 1), (x, 1, 1.0))
        if not value < NOISE:
            fail(f"For J = theta * x with its exact derivative, gradient_check returned {value:.3g}; "
                 f"a correct check gives a relative difference far below {THRESHOLD:g}.")

    # 3. The default step is 1e-7: on the cubic cost its truncation error is negligible.
    x, theta = cases.default
    value = silent(x, theta, (x, 3), (x, 3, 1.0))
    if not value < NOISE:
        fail(f"Called without epsilon, gradient_check returned {value:.3g} for a correct derivative: "
             "the default epsilon must be 1e-7.")

    # 4. x = 0: both gradients are 0, and the difference 0/0 is defined as 0.0.
    theta = cases.zero_theta
    value = run(0.0, theta, (0.0, 1), (0.0, 1, 1.0))[0]
    if not (isinstance(value, float) and value == 0.0):
        fail(f"At x = 0 both gradients are 0 and the relative difference is 0/0, defined as 0.0; gradient_check(0, "
             f"{theta:.4g}) returned {value!r}. Return 0.0 when the denominator is 0.")


# --- gradient_check_n -------------------------------------------------------------------------------

DEFAULT_STEP = 1e-6   # the default epsilon of every function of notebook 2
IGNORED_GRADIENTS = "You did not use the gradients argument: the check must compare the gradients it is given."
GLOBAL_DATA = ("Your function is right on costs that do not depend on X and Y, but not on the network: does it pass "
               "its own X and Y on to forward_propagation_n, not global variables such as the notebook's X and Y?")
SMOOTH_CONTEXT = "For a cost whose central difference is known"
SMOOTH_FALLBACK = "Check the central difference, the copies of the parameter vector and the formula."


@dataclass
class CheckCase:
    """One call of a student's check of the network's gradients.

    cost -- what stands in for forward_propagation_n: {"kind": "network_cost"}, the network itself, or
            {"kind": "cubic_sum_cost", "c": [...], "d": [...], "u": [...]}, J = sum(c theta^3 + d theta^2)
            + (u . theta)^2 / 2
    theta, gradient -- the parameters and the gradient given to the check, as (47,) vectors
    X, Y -- the batch, shapes (4, m) and (1, m)
    eps -- the step it is called with; None: called without epsilon
    central -- {repr(step): the central difference of the cost at theta, (47,)}, for the visible tests'
               stand-in gradapprox_n (the hidden tests compute it)
    """
    cost: dict
    theta: np.ndarray
    gradient: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    eps: float = None
    central: dict = None

    def to_json(self):
        data = {"cost": self.cost, "theta": self.theta.tolist(), "gradient": self.gradient.tolist(),
                "X": self.X.tolist(), "Y": self.Y.tolist(), "eps": self.eps}
        if self.central is not None:
            data["central"] = {step: list(map(float, vector)) for step, vector in self.central.items()}
        return data

    @classmethod
    def from_json(cls, data):
        return cls(data["cost"], np.array(data["theta"]), np.array(data["gradient"]), np.array(data["X"]),
                   np.array(data["Y"]), data["eps"], data.get("central"))


def check_gradient_check_n(run, cases, truth, approximate):
    """The tests of gradient_check_n, and of gradapprox_n, which the same exercise asks for.

    run(case, **kwargs) -- (result, printed, the sentence of a changed argument or None) of the
        student's gradient_check_n on a CheckCase, its cost standing in for forward_propagation_n
    approximate(case, **kwargs) -- (result, the sentence of a changed argument or None) of the
        student's gradapprox_n on a CheckCase, the same way
    cases -- {"signal": [CheckCase], "default": CheckCase, "network": [CheckCase], "verdicts": [CheckCase],
        "zero": CheckCase}; the i-th verdict case's gradient gives the relative difference VERDICT_CASES[i];
        the zero case's cost is constant and its gradient 0
    truth -- {"signal" or "network": (the right values, explain(values) -> sentence or None)}

    Raises CheckFailed for a wrong value; returns {minor part: sentence} of what else is wrong.
    """
    name = "gradient_check_n"
    marks = Marks(name)

    def called(case, **kwargs):
        result, printed, changed = run(case, **kwargs)
        if changed:
            fail(changed)
        return result, printed

    def value(case, **kwargs):
        result, printed = called(case, **kwargs)
        marks.silent(printed, kwargs)
        returns_only_when_printing(name, result, kwargs, lambda: called(case, **kwargs, print_msg=True)[0])
        return require_float(result, name)

    with marks.value():
        _gradient_check_n_values(name, value, cases, truth)
        check_zero_difference(name, value(cases["zero"]), "For a constant cost both gradients are 0")
        _gradapprox_n_values(approximate, cases, truth["signal"])

    # print_msg, on quadratic costs (central difference exact up to round-off).
    with marks.part("print_msg"):
        check_print_msg(name, lambda i, r: called(cases["verdicts"][i], print_msg=True)[1])
    return marks.lost


def _gradient_check_n_values(name, value, cases, truth):
    # 1. Smooth costs with known gradients and a large step: every mistake in the approximation or in
    #    the formula changes the number. The gradient is exact, then has one block spoiled.
    values = [value(case, epsilon=case.eps) for case in cases["signal"]]
    expected, explain = truth["signal"]
    compare_differences(values, expected, [case.eps for case in cases["signal"]], 1e-6, SMOOTH_CONTEXT,
                        SMOOTH_FALLBACK, lambda: explain(values))

    # 2. The default step is 1e-6: on the smooth cost its truncation error is negligible.
    result = value(cases["default"])
    if not result < NOISE:
        fail(f"Called without epsilon, gradient_check_n returned {result:.3g} for an exact gradient: "
             f"the default epsilon must be {DEFAULT_STEP:g}.")

    # 3. The real network at the default step: correct gradients (round-off), the team's, and spoiled ones.
    values = [value(case) for case in cases["network"]]
    expected, explain = truth["network"]
    compare_differences(values, expected, [DEFAULT_STEP] * len(values), 1e-5, "On the network", GLOBAL_DATA,
                        lambda: explain(values))


def check_zero_difference(name, value, situation, which=""):
    """Fail unless `value`, a relative difference of two zero gradients, is 0.0 (0/0, defined as 0).

    situation -- the case in words ("For a constant cost both gradients are 0"); which -- the value (" for b3")"""
    if not (isinstance(value, float) and value == 0.0):
        fail(f"{situation}, and their relative difference 0/0 is defined as 0.0, but {name} returned {value!r}{which}. "
             "Return 0.0 when the denominator is 0.")


APPROXIMATION = "gradapprox_n"


def _gradapprox_n_values(approximate, cases, signal):
    """gradapprox_n, which gradient_check_by_parameter and the notebook's cells call, must work on its own:
    the central difference as a (47, 1) column, its default step, its arguments left alone."""
    name, expected, explain = APPROXIMATION, *signal
    intro = "gradient_check_n returns the right values, but gradapprox_n, which the exercise asks for too, "

    def vector(case, **kwargs):
        try:
            result, changed = approximate(case, **kwargs)
        except CheckFailed as failure:
            if str(failure) == not_implemented(name):   # left as released: say so, as an answer still to write
                raise CheckFailed(intro + "still raises NotImplementedError, as released: write it. "
                                  "gradient_check_by_parameter and the cells below call it.") from failure.__cause__
            raise CheckFailed(intro + "fails: " + str(failure)) from failure.__cause__
        if changed:
            fail(intro + "changed its arguments: " + changed)
        if not isinstance(result, np.ndarray) or result.dtype.kind not in "biuf" or result.size != case.theta.size:
            kind = f"an array of shape {result.shape}" if isinstance(result, np.ndarray) else f"a {type(result).__name__}"
            fail(intro + f"returns {kind}: it should return the column gradapprox, an array of shape "
                         f"({case.theta.size}, 1).")
        if result.shape != (case.theta.size, 1):
            fail(intro + f"returns an array of shape {result.shape}: it should return a column of shape "
                         f"({case.theta.size}, 1), as dictionary_to_vector does.")
        return np.asarray(result, dtype=float).reshape(-1)

    values = [relative(case.gradient, vector(case, epsilon=case.eps)) for case in cases["signal"]]
    compare_differences(values, expected, [case.eps for case in cases["signal"]], 1e-6, intro + "for a cost whose "
                        "central difference is known", SMOOTH_FALLBACK, lambda: explain(values),
                        returned="its vector gives")
    difference = relative(cases["default"].gradient, vector(cases["default"]))
    if not difference < NOISE:
        fail(intro + f"called without epsilon on an exact gradient, its vector is off by {difference:.3g} (relative "
                     f"difference): the default epsilon must be {DEFAULT_STEP:g}.")


def relative(gradient, approximation):
    """The relative difference of two vectors, 0 for 0/0: how the tests measure gradapprox_n's vector."""
    denominator = np.linalg.norm(gradient) + np.linalg.norm(approximation)
    return float(np.linalg.norm(gradient - approximation) / denominator) if denominator > 0 else 0.0


def stand_in(cost, helpers):
    """The function a CheckCase's cost describes, with forward_propagation_n's signature.

    helpers -- the gc_utils module. The cubic cost returns the network's own cache, so that code which
    (wrongly) runs backward_propagation_n on it still runs, and its mistake can be named.
    """
    if cost["kind"] == "network_cost":
        return helpers.forward_propagation_n
    c, d = np.array(cost["c"]), np.array(cost["d"])
    u = np.array(cost.get("u", np.zeros(len(c))))
    network, to_vector = helpers.forward_propagation_n, helpers.dictionary_to_vector  # before any stand-in

    def forward_propagation_n(X, Y, parameters):
        theta = to_vector(parameters)[0].reshape(-1)
        with np.errstate(all="ignore"):
            cache = network(X, Y, parameters)[1]
        return float(np.sum(c * theta ** 3 + d * theta ** 2) + 0.5 * np.dot(u, theta) ** 2), cache
    return forward_propagation_n


# --- gradient_check_by_parameter --------------------------------------------------------------------

SAME_FOR_ALL = ("Every parameter got the same value, the difference over all 47 entries. "
                "Compare only the rows of grad and gradapprox that belong to each parameter.")
WHOLE_NORMS = "You divided by the norms of the whole vectors; divide by the norms of the parameter's own rows."
SORTED_ORDER = ("You cut the vectors in alphabetical order (W1, W2, W3, b1, ...); dictionary_to_vector lays them "
                "out as W1, b1, W2, b2, W3, b3.")
EMPTY_ROWS = ("Every value is 0 (or nan): either the rows selected for each parameter are empty, so that every value "
              "is 0 / 0, or grad and gradapprox are one and the same vector. keys == name on a Python list is just "
              "False: make keys a NumPy array (np.array(keys)) before comparing.")
EMPTY_SLICE = ("The rows you selected for {names} are empty, so its value is 0 / 0: a slice bound is off. The blocks "
               "W1, b1, W2, b2, W3, b3 fill the rows 0 to 46 in this order (b3 is row 46 alone), and a slice "
               "start:end holds the rows start to end - 1. Or pick each parameter's rows with the keys that "
               "dictionary_to_vector returns (keys == name, with keys a NumPy array).")
BLOCKS_FALLBACK = ("Check which rows of the vectors belong to each parameter: the order is W1, b1, W2, b2, W3, b3, "
                   "each read row by row.")


def require_block_dict(result, name, names):
    if not isinstance(result, dict):
        fail(f"{name} should return a dict, not a {type(result).__name__}.")
    if set(result) != set(names):
        fail(f"The keys of the returned dict should be {list(names)}, but they are {list(result)}.")
    return {key: require_float(value, f"{name} (the value for {key})") for key, value in result.items()}


def explain_blocks(found, expected, patterns, explain_rest, names):
    """Name the mistake that gives the per-parameter values of every attempt, or None.

    found, expected -- [{name: value}], one per attempt: the student's values and the right ones
    patterns -- [(sentence, [{name: value it gives}] one per attempt)]: mistakes in how the blocks are cut
    explain_rest(values) -- names a mistake in the difference itself from every block's value, attempt by
              attempt in the order of `names`
    """
    values = [attempt[n] for attempt in found for n in names]
    if all(np.isnan(v) or v == 0.0 for v in values):
        return EMPTY_ROWS
    # A block at 0/0 among others: its rows are empty (a slice off by one), not compared with themselves.
    hollow = [n for n in names if any((np.isnan(attempt[n]) or attempt[n] == 0.0) and right[n] >= NOISE
                                      for attempt, right in zip(found, expected))]
    if hollow:
        return EMPTY_SLICE.format(names=" and ".join(hollow))
    for sentence, targets in patterns:
        if all(matches(attempt[n], target[n]) for attempt, target in zip(found, targets) for n in names):
            return sentence
    for attempt, right in zip(found, expected):
        for n in names:
            digits = rounded_to(attempt[n], right[n])
            if digits is not None:
                return ROUNDED
    return explain_rest(values)


def check_gradient_check_by_parameter(run, cases, truth, names):
    """The tests of gradient_check_by_parameter.

    run(case, **kwargs) -- (result, printed, the sentence of a changed argument or None) of the
        student's function on a CheckCase, with forward_propagation_n and a correct gradapprox_n
        over the case's cost standing in
    cases -- {"signal": [CheckCase] with spoiled blocks, "network": [CheckCase] of the team's gradients,
              "default": CheckCase with the exact gradient, "zero": CheckCase whose cost does not depend on
              some parameters, with the exact gradient}
    truth -- {"signal": ([{name: right value}], patterns, explain_rest) as for explain_blocks,
              "network": [{name: right value}], "zero": [the parameters the zero case's cost ignores]}
    names -- the parameter names, in the order of dictionary_to_vector

    Raises CheckFailed for a wrong value; returns {} (it has no minor part).
    """
    name = "gradient_check_by_parameter"

    def blocks(case, **kwargs):
        result, _, changed = run(case, **kwargs)
        if changed:
            fail(changed)
        return require_block_dict(result, name, names)

    # 1. Smooth costs, a large step, one or two spoiled blocks: every value is signal.
    found = [blocks(case, epsilon=case.eps) for case in cases["signal"]]
    expected, patterns, explain_rest = truth["signal"]
    for values, right, case in zip(found, expected, cases["signal"]):
        wrong = [n for n in names if not close(values[n], right[n], rtol=1e-6, atol=1e-10)
                 or rounded_to(values[n], right[n]) is not None]
        if wrong:
            details = ", ".join(f"{n}: {apart(values[n], right[n])}" for n in wrong)
            fail(f"With some of the gradients spoiled (epsilon={case.eps:.3g}) some values are wrong ({details}). " +
                 (explain_blocks(found, expected, patterns, explain_rest, names) or BLOCKS_FALLBACK))

    # 2. The real network with the team's gradients, at the default step and at 1e-7.
    for case, right in zip(cases["network"], truth["network"]):
        values = blocks(case, **({} if case.eps is None else {"epsilon": case.eps}))
        for n in names:
            # Blocks the team got wrong are signal; the others are round-off, compared by size only.
            ok = close(values[n], right[n], rtol=1e-4) if right[n] > 1e-4 else values[n] < 1e-4
            if not ok:
                fail(f"On the network with the team's gradients (epsilon={case.eps or DEFAULT_STEP:g}), the value for "
                     f"{n} is {apart(values[n], right[n], ' instead of about ')}. " + GLOBAL_DATA)

    # 3. The default step is 1e-6: an exact gradient gives tiny values everywhere.
    values = blocks(cases["default"])
    if not max(values.values()) < 1e-5:
        fail(f"Called without epsilon on an exact gradient, {name} returned values up to {max(values.values()):.3g}: "
             f"the default epsilon must be {DEFAULT_STEP:g}.")

    # 4. A cost that ignores some parameters: their rows are 0 in both gradients, and their value 0/0 is 0.0.
    values, ignored = blocks(cases["zero"]), truth["zero"]
    for n in ignored:
        check_zero_difference(name, values[n], f"For a cost that does not depend on {' and '.join(ignored)}, both "
                                               f"gradients are 0 on the rows of {n}", f" for {n}")
    return {}


# --- backward_propagation_n_fixed -------------------------------------------------------------------

BACKWARD_ORDER = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")


def _ratio(actual, expected):
    """The constant c with actual = c * expected, if there is one; else None."""
    mask = np.abs(expected) > 1e-12
    if not mask.any():
        return None
    ratios = actual[mask] / expected[mask]
    c = float(np.median(ratios))
    if np.allclose(actual, c * expected, rtol=1e-6, atol=1e-12):
        return c
    return None


def explain_backward(key, actual, expected, m, known=None):
    """Explain why gradient `key` is wrong.

    actual, expected -- the student's array and the correct one (e.g. dW1 of shape (5, 4), db1 (5, 1))
    m -- the number of examples in the batch
    known -- {name: correct array} of the case ("A1", "Z2", ... from the cache and "dA1", ... from the
             correct gradients), to recognize a wrong derivative of ReLU
    """
    shape, right = np.shape(actual), np.shape(expected)
    if shape != right:
        message = f"{key} has shape {shape} but should have shape {right}"
        if key.startswith("db") and shape == (1, m):
            return message + ": sum over the examples, axis=1, not axis=0."
        if np.size(actual) == np.size(expected):
            if np.ndim(actual) == 1 and key.startswith("db"):
                return message + ": sum with keepdims=True."
            if shape == right[::-1]:
                return message + ", its transpose: check the order of the matrix product."
        return message + "."
    relu = _explain_relu(key, actual, known or {})
    if relu:
        return relu
    c = _ratio(actual, expected)
    if c is not None and c != 0:
        if key == "dW2" and abs(c - 2) < 1e-6:
            return "dW2 is twice the correct value: the team's extra factor 2 is still there."
        if key == "db1" and abs(c - 4) < 1e-6:
            return "db1 is four times the correct value: it still uses 4/m instead of 1/m."
        if abs(c - m) < 1e-6:
            return f"{key} is m times too large: divide by the number of examples m."
        if abs(c * m - 1) < 1e-6:
            return f"{key} is divided by m once too often."
        divisor = m / c
        if abs(divisor - round(divisor)) < 1e-6 and round(divisor) != m:
            return (f"{key} is divided by {round(divisor)} instead of by the number of examples "
                    f"(m = X.shape[1], here {m}).")
        return f"{key} is {c:.4g} times the correct value."
    if key in ("dZ2", "dZ1"):
        layer = key[-1]
        return (f"{key} is wrong. It is dA{layer} * (A{layer} > 0): the derivative of ReLU is 1 where the "
                "unit is active and 0 elsewhere.")
    return f"{key} is wrong (largest error {float(np.max(np.abs(actual - expected))):.3g})."


def _explain_relu(key, actual, known):
    """The two common wrong derivatives of ReLU in dZ1 or dZ2, in words; None otherwise."""
    layer = key[-1]
    if key not in ("dZ1", "dZ2") or f"dA{layer}" not in known:
        return None
    dA, A = known[f"dA{layer}"], known[f"A{layer}"]
    if np.allclose(actual, dA, rtol=1e-7, atol=1e-12):
        return (f"{key} equals dA{layer}: the ReLU mask is missing. dZ{layer} = dA{layer} * (A{layer} > 0), "
                "since the derivative of ReLU is 1 where the unit is active and 0 elsewhere.")
    if np.allclose(actual, dA * A, rtol=1e-7, atol=1e-12):
        return (f"{key} is dA{layer} * A{layer}: the derivative of ReLU is not A{layer} but the indicator "
                f"(A{layer} > 0), 1 where the unit is active and 0 elsewhere.")
    return None


CACHE_NAMES = ("Z1", "A1", "W1", "b1", "Z2", "A2", "W2", "b2", "Z3", "A3", "W3", "b3")


def check_backward_propagation_n_fixed(run, cases):
    """The tests of backward_propagation_n_fixed.

    run(X, Y, cache) -- (result, (X, Y, cache) as they are after the call) of the student's function
    cases -- [(X, Y, cache, the right gradients {"dZ3": ..., "db1": ...})], batches of several sizes

    Raises CheckFailed for wrong gradients; returns {minor part: sentence} of what else is wrong.
    """
    name = "backward_propagation_n_fixed"
    marks = Marks(name)
    with marks.value():
        for X, Y, cache, expected in cases:
            result, (given_X, given_Y, given_cache) = run(*snapshot(X, Y, cache))
            kept = (unchanged(X, given_X) and unchanged(Y, given_Y) and len(given_cache) == len(cache)
                    and all(unchanged(a, b) for a, b in zip(cache, given_cache)))
            if not kept:
                marks.lose("inputs", f"{name} changed its inputs (X, Y or the cache). Compute new arrays instead.")
            _compare_fixed(name, result, X, cache, expected)
    return marks.lost


def _compare_fixed(name, result, X, cache, expected):
    """Fail unless result holds the right gradients of the batch X; name the first wrong one."""
    m = X.shape[1]
    if not isinstance(result, dict):
        fail(f"{name} should return a dict of gradients, not a {type(result).__name__}.")
    missing = [key for key in BACKWARD_ORDER if key not in result]
    if missing:
        fail(f"The returned dict lacks {missing}: keep every key of backward_propagation_n.")
    known = dict(zip(CACHE_NAMES, cache), **expected)
    # The first wrong gradient in the order of backpropagation is the root cause; report it.
    for key in BACKWARD_ORDER:
        actual = np.asarray(result[key], dtype=float)
        if actual.shape == expected[key].shape and np.allclose(actual, expected[key], rtol=1e-7, atol=1e-12):
            continue
        fail(f"With a batch of m = {m} examples: {explain_backward(key, actual, expected[key], m, known)}")


# --- the visible tests ------------------------------------------------------------------------------

SCALAR_INPUTS = [(1.5, -2.5), (-3.0, 0.5), (1.2345678, -0.8765432), (0.1, 0.3), (-2.25, -1.75), (0.7, 2.9)]
GRADIENT_CHECK_CASES = GradientCheckCases(
    # The worked example first: J = theta^3 at theta = 1, eps = 0.1, whose central difference is 3.01.
    signal=[(1.0, 1.0, 0.1, 1.0), (2.0, -1.5, 0.05, 1.0), (-0.5, 2.0, 0.2, 1.5), (1.5, 0.8, 0.1, 0.5),
            (-1.2, -0.7, 0.25, -1.0)],
    linear=[(2.0, 4.0), (-3.0, 0.5)], default=(1.5, -2.0),
    verdicts=[(1.0, 1.0), (2.0, 0.5), (0.7, 1.5), (1.25, 2.0)], zero_theta=4.0)


def tabulated(function):
    """What gc_feedback_cases.json lists for `function`'s fixed cases."""
    return json.loads(CASES_FILE.read_text())[function]


def explain_from_table(table, values):
    """The sentence of the first listed mistake (or pair of mistakes) that gives every value, or None.

    table -- {"expected": [...], "sentences": [...], "candidates": [[sentence indices, values], ...]}
    """
    if any(value == 0.0 and right > NOISE for value, right in zip(values, table["expected"])):
        return table["self_comparison"]
    for parts, targets in table["candidates"]:
        if all(matches(value, target) for value, target in zip(values, targets)):
            return " ".join(table["sentences"][i] for i in parts)
    return None


def student_function(namespace, name):
    """The function that the student defined under this name, or a clear failure."""
    function = namespace.get(name)
    if function is None:
        fail(f"There is no function named {name}: run its cell, and keep the name given in the exercise.")
    if not callable(function):
        fail(f"{name} is a {type(function).__name__}, not a function.")
    return function


def _visible_forward_propagation(namespace):
    function = student_function(namespace, "forward_propagation")
    return check_forward_propagation(lambda x, theta: call(function, x, theta)[0], SCALAR_INPUTS)


def _visible_backward_propagation(namespace):
    function = student_function(namespace, "backward_propagation")
    return check_backward_propagation(lambda x, theta: call(function, x, theta)[0], SCALAR_INPUTS)


def _visible_gradient_check(namespace):
    function = student_function(namespace, "gradient_check")

    def run(x, theta, cost, derivative, **kwargs):
        (a, p), (b, q, scale) = cost, derivative
        with substituted([function.__globals__], forward_propagation=lambda x, theta: a * theta ** p,
                         backward_propagation=lambda x, theta: scale * q * b * theta ** (q - 1)):
            return call(function, x, theta, **kwargs)
    table = tabulated("gradient_check")
    return check_gradient_check(run, GRADIENT_CHECK_CASES, table["expected"],
                                lambda values: explain_from_table(table, values))


HELPER_NAMES = ("forward_propagation_n", "dictionary_to_vector", "vector_to_dictionary", "PARAMETER_NAMES")


def _helpers(namespace):
    """The helpers of gc_utils that the notebook imported, as attributes."""
    missing = [name for name in HELPER_NAMES if name not in namespace]
    if missing:
        fail(f"{', '.join(missing)} not found: run the notebook's first cell, which imports them from gc_utils.")
    return SimpleNamespace(**{name: namespace[name] for name in HELPER_NAMES})


def _check_runner(name, namespace, extra=lambda case: {}):
    """run(case, **kwargs) for CheckCase: the student's function on the case's parameters and gradients,
    with forward_propagation_n (and what extra(case) gives) standing in while it runs; it returns
    (result, printed, the sentence of a changed argument or None)."""
    function, helpers = student_function(namespace, name), _helpers(namespace)
    # The notebook's names, and gc_utils's own for a function that calls gc_utils.forward_propagation_n.
    spaces = [function.__globals__] + ([vars(sys.modules["gc_utils"])] if "gc_utils" in sys.modules else [])

    def run(case, **kwargs):
        parameters = helpers.vector_to_dictionary(case.theta)
        gradients = {"d" + key: value for key, value in helpers.vector_to_dictionary(case.gradient).items()}
        before = snapshot(parameters, gradients, case.X, case.Y)
        with substituted(spaces, forward_propagation_n=stand_in(case.cost, helpers), **extra(case)):
            result, printed = call(function, parameters, gradients, case.X, case.Y, **kwargs)
        return result, printed, inputs_changed(name, before, (parameters, gradients, case.X, case.Y))
    return run


def _approximation_runner(namespace):
    """approximate(case, **kwargs) for CheckCase: the student's gradapprox_n on the case's parameters, with
    forward_propagation_n standing in; it returns (result, the sentence of a changed argument or None)."""
    function, helpers = student_function(namespace, APPROXIMATION), _helpers(namespace)
    spaces = [function.__globals__] + ([vars(sys.modules["gc_utils"])] if "gc_utils" in sys.modules else [])

    def approximate(case, **kwargs):
        parameters = helpers.vector_to_dictionary(case.theta)
        before = snapshot(parameters, case.X, case.Y)
        with substituted(spaces, forward_propagation_n=stand_in(case.cost, helpers)):
            result, _ = call(function, parameters, case.X, case.Y, **kwargs)
        return result, inputs_changed(APPROXIMATION, before, (parameters, case.X, case.Y), ("parameters", "X", "Y"))
    return approximate


def _truth(table):
    return table["expected"], lambda values: explain_from_table(table, values)


def _visible_gradient_check_n(namespace):
    table = tabulated("gradient_check_n")
    cases = {part: [CheckCase.from_json(c) for c in table["cases"][part]] for part in ("signal", "network", "verdicts")}
    cases.update({part: CheckCase.from_json(table["cases"][part]) for part in ("default", "zero")})
    return check_gradient_check_n(_check_runner("gradient_check_n", namespace), cases,
                                  {part: _truth(table[part]) for part in ("signal", "network")},
                                  lambda case, **kwargs: _approximation_runner(namespace)(case, **kwargs))


def _tabulated_gradapprox(case):
    """A correct gradapprox_n on a visible case, from the central differences listed for it."""
    def gradapprox_n(parameters, X, Y, epsilon=DEFAULT_STEP):
        step = repr(float(epsilon))
        if step not in case.central:
            fail(f"gradapprox_n was called with epsilon={epsilon!r}, but the test gave epsilon={case.eps!r}: "
                 "pass on the epsilon your function receives.")
        return np.array(case.central[step]).reshape(-1, 1)
    return gradapprox_n


def _visible_gradient_check_by_parameter(namespace):
    table = tabulated("gradient_check_by_parameter")
    cases = {part: [CheckCase.from_json(c) for c in table["cases"][part]] for part in ("signal", "network")}
    cases.update({part: CheckCase.from_json(table["cases"][part]) for part in ("default", "zero")})
    signal = table["signal"]
    patterns = [(sentence, targets) for sentence, targets in signal["patterns"]]
    truth = {"signal": (signal["expected"], patterns, lambda values: explain_from_table(signal["rest"], values)),
             "network": table["network"], "zero": table["zero"]}
    run = _check_runner("gradient_check_by_parameter", namespace,
                        extra=lambda case: {"gradapprox_n": _tabulated_gradapprox(case)})
    return check_gradient_check_by_parameter(run, cases, truth, _helpers(namespace).PARAMETER_NAMES)


def _visible_backward_propagation_n_fixed(namespace):
    function = student_function(namespace, "backward_propagation_n_fixed")
    forward = _helpers(namespace).forward_propagation_n
    cases = []
    for case in tabulated("backward_propagation_n_fixed"):
        X, Y = np.array(case["X"]), np.array(case["Y"])
        parameters = _helpers(namespace).vector_to_dictionary(np.array(case["theta"]))
        with np.errstate(all="ignore"):
            cache = forward(X, Y, parameters)[1]
        cases.append((X, Y, cache, {key: np.array(value) for key, value in case["expected"].items()}))

    def run(X, Y, cache):
        return call(function, X, Y, cache)[0], (X, Y, cache)
    return check_backward_propagation_n_fixed(run, cases)


VISIBLE = {
    "backward_propagation_n_fixed": _visible_backward_propagation_n_fixed,
    "gradient_check_n": _visible_gradient_check_n,
    "gradient_check_by_parameter": _visible_gradient_check_by_parameter,
    "forward_propagation": _visible_forward_propagation,
    "backward_propagation": _visible_backward_propagation,
    "gradient_check": _visible_gradient_check,
}


def visible_tests(name, namespace):
    """Run the visible tests of the function `name` defined in the notebook's namespace (globals()).

    A wrong value raises CheckFailed: the test cell scores 0. When only minor parts are wrong, the
    sentences are printed and the points kept returned: nbgrader scores a test cell whose result is
    a number with that many points (partial credit).
    """
    __tracebackhide__ = True
    lost = VISIBLE[name](namespace)
    if not lost:
        print(f"{name} passes the visible tests.")
        return None
    print(partial_credit(name, lost, "visible"))
    return float(points_kept(name, lost))
