"""minisim.photometry: spec, task model, physics, determinism, faults and our own QC (main suite, fast)."""

from __future__ import annotations

import itertools

import dask
import numpy as np
import pytest
from pydantic import ValidationError

from minisim.photometry import (
    Acquisition,
    BandBleaching,
    Bleaching,
    EventResponse,
    Faults,
    Fiber,
    Hemodynamics,
    IsosbesticMismatch,
    Motion,
    PhotometrySpec,
    Responses,
    Spontaneous,
    Task,
    simulate_session,
)
from minisim.photometry import metrics as pm
from minisim.photometry import signals as sig
from minisim.photometry.sensors import SENSORS, kernel_half_times
from minisim.photometry.task import block_lengths, p_right, simulate_trials

SHORT = Task(n_trials=40, first_block_trials=20)


def small(**kw):
    kw.setdefault("task", SHORT)
    return PhotometrySpec(**kw)


def test_sensor_table_covers_the_neuromodulators_with_references():
    ligands = {s.ligand for s in SENSORS.values()}
    assert ligands >= {"calcium", "dopamine", "serotonin", "acetylcholine", "noradrenaline"}
    assert set(SENSORS) >= {"GCaMP6f", "GCaMP6s", "dLight1.1", "GRAB-DA2m", "GRAB-5HT1.0", "GRAB-ACh3.0", "GRAB-NE1m"}
    for s in SENSORS.values():
        assert s.tau_rise_s < s.tau_decay_s and s.reference and any(ch.isdigit() for ch in s.reference)
    assert SENSORS["GCaMP6s"].tau_decay_s > SENSORS["GCaMP6f"].tau_decay_s


def test_sensor_kernels_match_their_published_kinetics_and_isosbestic_behaviour():
    for s in SENSORS.values():
        half_rise, t_peak, half_decay = kernel_half_times(s.tau_rise_s, s.tau_decay_s)
        assert 0 < half_rise < t_peak < half_decay + t_peak
        if s.published_half_decay_s is not None:  # GCaMP6: τ_decay was solved for the published 1-AP half-decay
            assert half_decay == pytest.approx(s.published_half_decay_s, rel=0.01), s.name
        if s.ligand == "calcium":  # 415 nm just above the ~405-410 nm crossing: small positive response
            assert s.isosbestic_nm is not None and s.isosbestic_nm < 415 and 0 < s.iso_coefficient <= 0.05
        else:  # GRAB and dLight: no usable isosbestic point, small negative response at 415 nm
            assert s.isosbestic_nm is None and -0.1 <= s.iso_coefficient < 0
            assert 1.5 <= s.dff_max <= 4.0  # ΔF/Fmax of 150-400 % in those papers
    # GCaMP6s is ~2-3x slower than 6f; GRAB sensors turn off in ~0.5-4 s; dLight1.1 is the fastest dopamine sensor
    assert 2 <= SENSORS["GCaMP6s"].tau_decay_s / SENSORS["GCaMP6f"].tau_decay_s <= 5
    assert all(0.5 <= s.tau_decay_s <= 4 for n, s in SENSORS.items() if n.startswith("GRAB"))
    assert SENSORS["dLight1.1"].tau_decay_s < SENSORS["GRAB-DA2m"].tau_decay_s
    with pytest.raises(ValueError, match="tau_rise_s < tau_decay_s"):
        kernel_half_times(1.0, 0.5)


def test_spec_validation_messages():
    with pytest.raises(ValidationError, match="unknown sensor 'GCaMP9'"):
        Fiber(sensor="GCaMP9")
    with pytest.raises(ValidationError, match="more than once"):
        PhotometrySpec(steps=(Motion(), Motion()))
    with pytest.raises(ValidationError, match="junk frame"):
        Faults(dropped_rows=(0,))
    with pytest.raises(ValidationError, match=r"must be < 0\.95"):
        Bleaching(band_470=BandBleaching(fast_fraction=0.5, slow_fraction=0.5))
    with pytest.raises(ValidationError, match="extra"):
        PhotometrySpec(sedd=1)
    spec = PhotometrySpec(steps=(Hemodynamics(), Responses()))
    assert [s.kind for s in spec.steps] == ["responses", "hemodynamics"]  # canonical order
    assert PhotometrySpec.model_validate_json(spec.model_dump_json()) == spec


def test_block_structure_and_trials_table():
    task = Task(n_trials=600)
    blocks = block_lengths(task, seed=3, session=0)
    assert blocks[0] == (90, 0.5)
    assert all(20 <= n <= 100 for n, _ in blocks[1:])
    ps = [p for _, p in blocks[1:]]
    assert set(ps) <= {0.2, 0.8} and all(a != b for a, b in itertools.pairwise(ps))
    trials, truth = simulate_trials(task, seed=3)
    assert len(trials) == 600
    assert (trials.contrastLeft.isna() ^ trials.contrastRight.isna()).all()
    assert np.all(np.diff(trials.intervals_0) > 0) and (trials.intervals_1 > trials.intervals_0).all()
    assert (trials.feedback_times >= trials.response_times).all()
    # feedback follows the choice and the stimulus side (choice -1 = right is correct for a right stimulus)
    right = trials.contrastLeft.isna()
    correct = np.where(right, trials.choice == -1, trials.choice == 1)
    assert np.array_equal(trials.feedbackType == 1, correct)
    assert np.array_equal(trials.rewardVolume > 0, correct)
    # left stimuli are more frequent in pL = 0.8 blocks
    assert (~right[trials.probabilityLeft == 0.8]).mean() > 0.7
    # psychometric: easy trials mostly correct, RT falls with contrast
    c = np.where(right, trials.contrastRight, trials.contrastLeft)
    assert correct[c == 1.0].mean() > 0.85
    rt = trials.firstMovement_times - trials.stimOn_times
    assert np.nanmedian(rt[c == 1.0]) < np.nanmedian(rt[c == 0.0])
    # the truth's RPE is reward minus the predicted value
    assert np.allclose(truth.rpe, correct.astype(float) - truth.predicted_value)


def test_psychometric_curve_and_prior_bias():
    assert p_right(1e6, 0, 15, 0.1, 0.2) == pytest.approx(0.8)  # 1 - γ2 at strong right contrast
    assert p_right(-1e6, 0, 15, 0.1, 0.2) == pytest.approx(0.1)  # γ1 at strong left contrast
    trials, _ = simulate_trials(Task(n_trials=600), seed=1)
    zero = np.where(trials.contrastLeft.isna(), trials.contrastRight, trials.contrastLeft) == 0
    left_choice = trials.choice == 1
    assert (
        left_choice[zero & (trials.probabilityLeft == 0.8)].mean()
        > left_choice[zero & (trials.probabilityLeft == 0.2)].mean()
    )


def test_pulse_response_peak_is_the_amplitude_and_support_is_exact():
    t = np.linspace(0, 10, 100001)
    y = sig.event_sum(t, np.array([1.0]), np.array([0.05]), 0.05, 0.2, 0.1, 0.05)
    assert y.max() == pytest.approx(0.05, rel=1e-3)
    assert t[np.argmax(y)] > 1.05 and np.all(y[t < 1.0499] == 0)
    # computing a subset of the time points gives the same numbers
    sub = t[50000:50010]
    assert np.array_equal(sig.event_sum(sub, np.array([1.0]), np.array([0.05]), 0.05, 0.2, 0.1, 0.05), y[50000:50010])


def test_lazy_build_computes_nothing():
    def refuse(*a, **k):
        raise AssertionError("the graph was computed")

    with dask.config.set(scheduler=refuse):
        sess = simulate_session(small())
        chunks = sess.chunks(2048)
        col = sess.column("G0", 2048)
    assert len(chunks) == -(-sess.n_rows // 2048) and col.shape == (sess.n_rows,)


def test_bit_identical_across_chunkings_and_schedulers():
    spec = small(
        fibers=(Fiber(), Fiber(region="DR", sensor="GRAB-5HT1.0")), steps=(*small().steps, IsosbesticMismatch())
    )
    sess = simulate_session(spec)
    ref = sess.frames(chunk_rows=sess.n_rows)
    for rows, sched in ((1000, "synchronous"), (4097, "threads"), (7777, "processes")):
        with dask.config.set(scheduler=sched):
            other = sess.frames(chunk_rows=rows)
        for c in ref.columns:
            assert np.array_equal(ref[c].to_numpy(), other[c].to_numpy()), (c, rows, sched)


def test_session_index_and_seed_change_the_draws_but_steps_do_not_shift_each_other():
    a = simulate_session(small(), 0).frames()
    b = simulate_session(small(), 1).frames()
    assert not np.array_equal(a.G0[:100], b.G0[:100])
    no_hemo = small(steps=tuple(s for s in small().steps if s.kind != "hemodynamics"))
    c = simulate_session(no_hemo, 0).frames()
    assert np.array_equal(a.dff_G0, c.dff_G0) and np.array_equal(a.motion_G0, c.motion_G0)
    assert (c.hemodynamics_G0 == 1).all()


def test_frames_alternate_after_a_junk_frame_with_realistic_values():
    spec = small()
    df = simulate_session(spec).frames()
    assert df.LedState.iloc[0] == 0 and (len(df) - 1) % 2 == 0
    led = df.LedState.to_numpy()[1:]
    assert led[0] == 2 and np.all(led[1:] != led[:-1])
    dt = np.diff(df.SystemTimestamp.to_numpy()[1:][led == 2])
    assert np.median(dt) == pytest.approx(2 / 60, rel=1e-4) and np.abs(dt - np.median(dt)).max() < 1e-3
    g, iso = df.G0[df.LedState == 2], df.G0[df.LedState == 1]
    assert 0.004 < g.median() < 0.01 and iso.median() > g.median()
    # shot + read noise on the ROI mean: ~0.1 % of F frame to frame
    resid = (df.G0 - df.expected_G0)[df.LedState == 2]
    assert 0.0005 < resid.std() / g.mean() < 0.002


def test_clock_drift_and_sync_pulses():
    sess = simulate_session(small(acquisition=Acquisition(clock_drift_ppm=7.0)))
    df = sess.frames()
    slope = np.polyfit(df.times, df.SystemTimestamp, 1)[0]
    assert (slope - 1) * 1e6 == pytest.approx(7.0, abs=0.05)
    ttl = sess.sync_times_bpod()
    assert ttl.size >= 2 * len(sess.trials)  # trial start, exit state and a reward per correct trial
    assert np.allclose(sess.plan.fp_to_bpod(sess.plan.bpod_to_fp(ttl)), ttl, atol=1e-9)
    assert sess.reported_drift_ppm == pytest.approx(-7.0, abs=1e-4)


def test_event_responses_switch_off_and_scale_with_rpe():
    off = Responses(stim_on=EventResponse(enabled=False))
    sess = simulate_session(small(steps=(off,)))
    df = sess.frames()
    assert (df.stim_on_G0 == 0).all() and (df.feedback_G0 != 0).any()
    # feedback responses: amplitude = rpe_gain · RPE, positive after rewards, dips after errors
    fb = pm.event_amplitudes(df.set_index("times").feedback_G0, sess.trials.feedback_times.to_numpy(), (0.1, 0.6))
    rpe = sess.trials_truth.rpe.to_numpy()
    assert np.corrcoef(fb, rpe)[0, 1] > 0.95
    assert np.all(fb[rpe > 0.2] > 0) and np.all(fb[rpe < -0.2] < 0)


def test_hemodynamics_heartbeat_is_in_band_and_stronger_at_415():
    spec = small(steps=(Hemodynamics(heart_rate_sd_hz=0.1, vasomotion_absorbance=0.0, respiration_absorbance=0.0),))
    df = simulate_session(spec).frames()
    h470 = df.hemodynamics_G0[df.LedState == 2].to_numpy()
    h415 = df.hemodynamics_G0[df.LedState == 1].to_numpy()
    assert np.std(np.log(h415)) / np.std(np.log(h470)) == pytest.approx(2.5, rel=0.05)
    spec_ = np.abs(np.fft.rfft(h470 - h470.mean()))
    freqs = np.fft.rfftfreq(h470.size, 1 / 30)
    assert 8 <= freqs[np.argmax(spec_)] <= 12


def test_respiration_and_vasomotion_bands_are_where_planted():
    for kw, lo, hi in (
        (dict(respiration_hz=3.0, heartbeat_absorbance=0.0, vasomotion_absorbance=0.0), 2.0, 4.0),
        (dict(vasomotion_hz=0.1, heartbeat_absorbance=0.0, respiration_absorbance=0.0), 0.05, 0.2),
    ):
        spec = small(steps=(Hemodynamics(**kw),), task=Task(n_trials=80, first_block_trials=20))
        df = simulate_session(spec).frames()
        h = np.log(df.hemodynamics_G0[df.LedState == 2].to_numpy())
        power = np.abs(np.fft.rfft(h - h.mean())) ** 2
        freqs = np.fft.rfftfreq(h.size, 1 / 30)
        assert lo <= freqs[1:][np.argmax(power[1:])] <= hi, kw


def test_event_responses_can_be_reshaped():
    spec = small(fibers=(Fiber(sensor="GRAB-DA2m"),))
    early = Responses(feedback=EventResponse(base_dff=0.05, delay_s=0.0, width_s=0.05))
    late = Responses(feedback=EventResponse(base_dff=0.05, delay_s=0.5, width_s=0.5))
    peaks = []
    for resp in (early, late):
        sess = simulate_session(spec.model_copy(update={"steps": (resp,)}))
        df = sess.frames()
        t, y = df.times.to_numpy(), df.feedback_G0.to_numpy()
        fb = sess.trials.feedback_times.to_numpy()[3]
        w = (t > fb) & (t < fb + 2.0)
        peaks.append((t[w][np.argmax(y[w])] - fb, y[w].max()))
    # the delay and the longer drive move the peak later by at least the delay; the amplitude stays the peak ΔF/F
    assert peaks[1][0] - peaks[0][0] >= 0.5
    assert peaks[0][1] == pytest.approx(0.05, rel=0.05) and peaks[1][1] == pytest.approx(0.05, rel=0.05)


def test_isosbestic_mismatch_puts_activity_in_the_415_band():
    base = (Responses(), Spontaneous(amplitude_dff=0.05))
    clean = simulate_session(small(steps=base)).frames()
    mism = simulate_session(small(steps=(*base, IsosbesticMismatch(activity_coefficient=0.3)))).frames()
    iso = clean.LedState == 1
    assert (
        np.corrcoef(clean.expected_G0[iso], clean.dff_G0[iso])[0, 1] == pytest.approx(0.0, abs=0.2)
        or np.std(clean.expected_G0[iso]) < 1e-12
    )
    assert np.corrcoef(mism.expected_G0[iso], mism.dff_G0[iso])[0, 1] > 0.99


def test_motion_coupling_steps_are_shared_by_both_bands():
    spec = small(steps=(Motion(wander_sd=0.0, movement_dip=0.0, coupling_steps_per_hour=60.0, coupling_step_sd=0.05),))
    df = simulate_session(spec).frames()
    m470 = np.log(df.motion_G0[df.LedState == 2].to_numpy())
    m415 = np.log(df.motion_G0[df.LedState == 1].to_numpy())
    assert np.unique(np.round(m470, 12)).size > 1  # piecewise-constant steps happened
    assert np.allclose(m470[: m415.size], m415[: m470.size], atol=0.06)


def test_bleaching_constants_recovered_by_our_fit():
    bl = Bleaching(
        band_470=BandBleaching(fast_fraction=0.1, tau_fast_s=60, slow_fraction=0.25, tau_slow_s=300),
        band_415=BandBleaching(fast_fraction=0.06, tau_fast_s=90, slow_fraction=0.3, tau_slow_s=450),
    )
    spec = PhotometrySpec(
        task=Task(n_trials=250),
        acquisition=Acquisition(frame_rate_hz=30),
        steps=(Responses(), Spontaneous(), bl, Hemodynamics()),
    )
    df = simulate_session(spec).frames()
    for led, band in ((2, bl.band_470), (1, bl.band_415)):
        sel = df[df.LedState == led]
        fit = pm.fit_bleaching(sel.times.to_numpy(), sel.G0.to_numpy(), offset=spec.acquisition.dark_offset_au)
        err = pm.bleaching_error(fit, band)
        assert abs(err["tau_fast"]) < 0.10 and abs(err["tau_slow"]) < 0.10, (led, err)


FAULTS = {
    "clean": Faults(),
    "dropped": Faults(dropped_rows=(3001,)),
    "repeated": Faults(repeated_rows=(2000,)),
    "early": Faults(early_rows=(1500,)),
    "late": Faults(late_start_s=5.0),
    "quantized": Faults(quantize_bits=8),
}


def test_own_qc_agrees_with_the_injected_faults():
    pairs = []
    for name, faults in FAULTS.items():
        sess = simulate_session(small(faults=faults))
        df = sess.frames()
        qc = pm.raw_qc(df, sess.trials, df.times.to_numpy())
        exp = pm.expected_qc({"faults": faults.model_dump()})
        assert qc["band_inversions"] == exp["band_inversions"], name
        assert qc["early_samples"] == exp["early_samples"], name
        assert qc["covers_trials"] == exp["covers_trials"], name
        assert (qc["unique_fraction"] < 0.1) == exp["few_unique"], name
        flagged = (
            qc["band_inversions"] > 0
            or qc["early_samples"] > 0
            or not qc["covers_trials"]
            or qc["unique_fraction"] < 0.1
        )
        pairs.append((faults.any, flagged))
        if name in ("dropped", "repeated", "early"):
            col = {"dropped": "fault_dropped", "repeated": "fault_repeated", "early": "fault_early"}[name]
            assert df.index[df[col]].tolist() == list(getattr(faults, f"{name}_rows"))
    cm = pm.qc_confusion(pairs)
    assert cm.loc["clean", "pass"] == 1 and cm.loc["faulty", "flagged"] == 5 and cm.to_numpy().sum() == 6


def test_fault_rows_beyond_the_session_are_refused():
    with pytest.raises(ValueError, match="beyond the session"):
        simulate_session(small(faults=Faults(early_rows=(10**8,))))


def test_recovery_metric():
    t = np.linspace(0, 100, 3001)
    truth = __import__("pandas").Series(np.sin(t), index=t)
    r = pm.recovery(truth * 2 + 0.1, truth)
    assert (
        r["r"] == pytest.approx(1.0) and r["rmse_affine_dff"] < 1e-9 and r["bias_dff"] == pytest.approx(0.1, abs=0.01)
    )
    bias = pm.event_amplitude_bias(truth * 1.5, truth, np.arange(5, 95, 7.0))
    assert bias["slope"] == pytest.approx(1.5, rel=1e-6)
