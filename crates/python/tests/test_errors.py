"""Bad input is a Python exception naming the fault, never a crash; the stop button
(SIGINT) ends a long run and keeps what it computed."""

import signal
import threading
import time

import numpy as np
import pytest

import gradsheet as gs


def test_a_formula_error_carries_its_span_and_the_caret():
    with pytest.raises(gs.FormulaError) as e:
        gs.train("c*MAX(a*x+b,0)+", epochs=1)
    err = e.value
    assert isinstance(err, ValueError)
    assert err.what == "model" and err.formula == "c*MAX(a*x+b,0)+"
    assert err.span == (15, 15)
    assert str(err) == (
        "in the model:\nc*MAX(a*x+b,0)+\n               ^ expected an expression, found the end of the formula"
    )


def test_spans_count_characters_not_bytes():
    # 'β' is two bytes in UTF-8; Python indexes the formula by character.
    with pytest.raises(gs.FormulaError) as e:
        gs.diff("β*x+b)")
    s, t = e.value.span
    assert e.value.formula[s:t] == ")"


def test_the_loss_and_typed_derivatives_are_named_in_their_errors():
    with pytest.raises(gs.FormulaError) as e:
        gs.train("a*x+b", loss="(pred-y", epochs=1)
    assert e.value.what == "loss"
    with pytest.raises(gs.FormulaError, match="the data has no column `y`") as e:
        gs.train("a*x+b", data={"x": [1, 2]})
    assert e.value.what == "loss"
    with pytest.raises(gs.FormulaError) as e:
        gs.check("a*x+b", a="2*(a*x+b-y)*")
    assert e.value.what == "derivative for a"


@pytest.mark.parametrize(
    "kwargs,field,words",
    [
        (dict(optimizer="adma"), "optimizer", "did you mean adam?"),
        (dict(optimizer="adam", beta2=1.5), "beta2", "β2 = 1.5 is invalid: it must be in [0, 1)"),
        (dict(optimizer="sgd", lr=-1), "lr", "learning rate = -1 is invalid"),
        (dict(optimizer="sgd", beta1=0.9), "beta1", "does not apply to sgd"),
        (dict(optimizer="sgd", lr="fast"), "lr", "must be a number"),
        (dict(init={"z": 1}), "init", "not a parameter (the parameters are a, b)"),
        (dict(record="some"), "record", "'steps'"),
        (dict(gradient="sideways"), "gradient", "sideways"),
        (dict(h=0), "h", "must be a number > 0"),
        (dict(epochs=-1), "epochs", "whole number"),
        (dict(data={"x": [1, 2], "y": [1]}), "data", "one value per row"),
        (dict(data={"x": [], "y": []}), "data", "no rows"),
        (dict(x=[1, 2], y=["a", "b"]), "data", "not numbers"),
        (dict(data=np.zeros((3, 3))), "data", "columns=[...]"),
    ],
)
def test_a_bad_setting_names_its_field(kwargs, field, words):
    with pytest.raises(gs.SettingError) as e:
        gs.train("a*x+b", **kwargs)
    assert e.value.field == field
    assert words in str(e.value)


def test_a_bad_csv_cell_is_named_by_row_and_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("x,y\n1,32\n2,thirty\n")
    with pytest.raises(gs.SettingError) as e:
        gs.train("a*x+b", data=str(p))
    assert str(e.value).endswith("row 3, column B ('y'): 'thirty' is not a number")


def test_other_commands_refuse_bad_input_with_exceptions():
    with pytest.raises(gs.SettingError, match="wrt 'q'"):
        gs.diff("a*x+b", wrt=["q"])
    with pytest.raises(gs.SettingError, match="z is not a parameter"):
        gs.check("a*x+b", z="x")
    with pytest.raises(gs.SettingError) as e:
        gs.eval("a*x+b", x=1)
    assert e.value.field == "a" and "a, b without a value" in str(e.value)
    with pytest.raises(gs.SettingError) as e:
        gs.graddesc("momentum", beta2=0.9)
    assert e.value.field == "beta2"
    with pytest.raises(gs.SettingError, match="sheet"):
        gs.graddesc("nope")
    with pytest.raises(gs.SettingError) as e:
        gs.sweep("a*x+b", "lr=1e-6..1e-3:4:log", "speed=1..2:2")
    assert e.value.field == "y"
    with pytest.raises(gs.SettingError) as e:
        gs.surface("a*x+b", "a=-1..1:20", "q=0..1:20")
    assert e.value.field == "y"
    with pytest.raises(gs.SettingError, match="2 to 4096"):
        gs.surface("a*x+b", "a=-1..1:5000", "b=0..1:20")
    with pytest.raises(gs.SettingError) as e:
        gs.lab("nosuchlab")
    assert "conv" in str(e.value)
    with pytest.raises(gs.SettingError):
        gs.lab("conv", nosuch=3)


def _interrupt_after(seconds):
    # SIGINT to the main thread, as the stop button's reaches Python.
    main = threading.main_thread().ident
    t = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    t.start()
    return t


def test_the_stop_button_ends_a_run_and_keeps_its_steps():
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.005)

    counter = threading.Thread(target=count)
    counter.start()
    _interrupt_after(0.4)
    started = time.monotonic()
    try:
        with pytest.raises(gs.Interrupted) as e:
            gs.train("c*MAX(a*x+b,0)+d", optimizer="torch-adam", lr=0.01, epochs=10**8)
    finally:
        stop.set()
        counter.join()
    took = time.monotonic() - started
    assert isinstance(e.value, KeyboardInterrupt)
    assert took < 3, took
    # The GIL was released: the other Python thread ran all along.
    assert len(ticks) > 20
    run = e.value.run
    assert run.stopped == "interrupted"
    n = run.steps_taken
    assert 0 < n == len(run.steps) == run.stop["steps"]
    # What was kept is the start of the same run, bit for bit.
    again = gs.train("c*MAX(a*x+b,0)+d", optimizer="torch-adam", lr=0.01, epochs=n // 29 + 1)
    a, b = run.step_arrays, again.step_arrays
    for c in a:
        assert np.array_equal(a[c], b[c][:n]), c


def test_the_stop_button_ends_a_native_run():
    _interrupt_after(0.3)
    started = time.monotonic()
    with pytest.raises(gs.Interrupted) as e:
        gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=10**10, record="epochs")
    assert time.monotonic() - started < 3
    run = e.value.run
    assert run.stopped == "interrupted" and run.epochs_done > 0
    assert len(run.epochs) == run.epochs_done
