"""The exceptions gradsheet raises. The native module raises them with the engine's own
messages (a formula's error shows the formula with a caret under the fault)."""


class GradsheetError(Exception):
    """Something gradsheet was asked to do cannot be done as asked."""


class FormulaError(GradsheetError, ValueError):
    """A formula that does not parse or does not fit its data.

    ``span`` is ``(start, end)``, the characters of ``formula`` at fault (``end`` may equal
    ``start`` for a point, such as the end of the text); ``what`` says which formula it is
    (``model``, ``loss``, ``derivative for a``, ...). ``str(e)`` shows the formula with a
    caret under the fault.
    """

    def __init__(self, message, span, formula, what):
        super().__init__(message)
        self.span = tuple(span)
        self.formula = formula
        self.what = what


class SettingError(GradsheetError, ValueError):
    """A setting out of range or unknown: ``field`` names it as you wrote it (``lr``,
    ``optimizer``, ``init``, ``data``, ...)."""

    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


class Interrupted(KeyboardInterrupt):
    """The run was stopped (the notebook's stop button, Ctrl-C). Everything computed
    before is kept: ``e.run`` is the run up to there (``run.stopped == 'interrupted'``).
    In a notebook, the next cell can take it with ``run = sys.last_value.run``."""

    def __init__(self, message, run):
        super().__init__(message)
        self.run = run
