"""The IBL biasedChoiceWorld task: blocks, stimuli, psychometric choices, timing and feedback.

Every trial's draws come from a generator keyed on (seed, task step, session,
stream, trial), so the trials table does not depend on anything but the spec.
The block structure and the latent prior are sequential by nature; they are
computed trial by trial from those keyed draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import erf

from minisim.photometry.rng import keyed
from minisim.photometry.spec import STEP_IDS, Task

_STEP = STEP_IDS["task"]
#: Streams of the task step.
_BLOCKS, _TRIAL = 0, 1


def truncated_exponential(rng: np.random.Generator, scale: float, lo: float, hi: float) -> float:
    """One draw of an exponential of ``scale`` restricted to [lo, hi] (rejection sampling, as iblrig does)."""
    while True:
        x = rng.exponential(scale)
        if lo <= x <= hi:
            return float(x)


def block_lengths(task: Task, seed: int, session: int) -> list[tuple[int, float]]:
    """(length, probabilityLeft) of each block: 90 trials at 0.5, then alternating 0.2/0.8 blocks."""
    rng = keyed(seed, _STEP, session, _BLOCKS)
    blocks = [(task.first_block_trials, 0.5)]
    p = float(rng.choice([0.2, 0.8]))
    total = task.first_block_trials
    while total < task.n_trials:
        n = int(truncated_exponential(rng, task.block_scale_trials, task.block_min_trials, task.block_max_trials))
        blocks.append((n, p))
        total += n
        p = 1.0 - p if p != 0.5 else p
        p = round(p, 1)
    return blocks


def p_right(signed_contrast_pct: np.ndarray | float, mu: float, sigma: float, g1: float, g2: float) -> np.ndarray:
    """Psychometric probability of a "right" choice (choice = -1) at a signed contrast in %.

    Notes
    -----
    ``P = γ1 + (1 - γ1 - γ2)·(erf((c - μ)/σ) + 1)/2`` (IBL psychofit's
    ``erf_psycho_2gammas``), with c > 0 for stimuli on the right.
    """
    c = np.asarray(signed_contrast_pct, dtype=float)
    return g1 + (1.0 - g1 - g2) * (erf((c - mu) / sigma) + 1.0) / 2.0


def simulate_trials(task: Task, seed: int, session: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trials table (IBL ALF columns, Bpod clock) and its per-trial truth.

    Returns
    -------
    trials : DataFrame
        ``intervals_0/1``, ``goCue_times``, ``response_times``, ``choice``
        (-1 = right), ``stimOn_times``, ``contrastLeft/Right`` (one NaN per
        trial), ``feedback_times``, ``feedbackType``, ``rewardVolume``,
        ``probabilityLeft``, ``firstMovement_times``, plus trigger and
        stimOff times.
    truth : DataFrame
        Latent prior, P(right), bias μ, predicted value, RPE, true RT and
        movement time, and whether the trial was a disengaged one.

    Notes
    -----
    The latent prior is an exponential filter over past stimulus sides
    (learning rate ``prior_learning_rate``); it shifts the psychometric bias.
    Predicted value at stimulus onset is the probability of being correct given
    the stimulus and the prior; the RPE at feedback is reward (1 or 0) minus it.
    """
    ps, rts = task.psychometric, task.reaction_times
    pl_per_trial = np.concatenate([np.full(n, p) for n, p in block_lengths(task, seed, session)])[: task.n_trials]
    contrasts = np.asarray(task.contrasts, dtype=float)
    rows, truth = [], []
    prior_left = 0.5
    t = 2.0  # Bpod clock: the first trial starts 2 s after Bpod start
    for i in range(task.n_trials):
        rng = keyed(seed, _STEP, session, _TRIAL, i)
        pl = float(pl_per_trial[i])
        left = bool(rng.random() < pl)
        contrast = float(contrasts[rng.integers(contrasts.size)])
        signed = 100.0 * contrast * (-1.0 if left else 1.0)
        mu = ps.bias_pct + ps.prior_shift_pct * (prior_left - 0.5) / 0.3
        pr = float(p_right(signed, mu, ps.threshold_pct, ps.gamma1, ps.gamma2))
        choose_right = bool(rng.random() < pr)
        # reaction time: log-normal whose median falls with contrast, plus a disengaged tail
        median = rts.rt_median_zero_s + (rts.rt_median_easy_s - rts.rt_median_zero_s) * contrast
        disengaged = bool(rng.random() < rts.disengaged_fraction)
        if disengaged:
            median = rts.disengaged_median_s
        rt = float(median * np.exp(rts.rt_log_sd * rng.standard_normal()))
        mt = float(rts.movement_median_s * np.exp(rts.movement_log_sd * rng.standard_normal()))
        quiescence = 0.2 + truncated_exponential(rng, 0.35, 0.2, 0.5)
        photodiode_lag = float(rng.uniform(0.02, 0.08))
        iti_gap = float(rng.uniform(0.6, 0.8))
        start = t
        stim_trig = start + quiescence
        stim_on = stim_trig + photodiode_lag
        go_cue = stim_trig + 0.001
        nogo = rt + mt > 60.0
        first_move = stim_on + rt if rt < 60.0 else np.nan
        response = go_cue + 60.0 if nogo else stim_on + rt + mt
        choice = 0 if nogo else (-1 if choose_right else 1)
        correct = (not nogo) and ((choice == -1) == (not left))
        feedback = response + (0.0001 if correct else 0.03)
        stim_off = feedback + (1.0 if correct else 2.0)
        end = stim_off + 0.5
        # value and RPE of this trial
        p_correct = pr if not left else 1.0 - pr
        rpe = (1.0 if correct else 0.0) - p_correct
        rows.append(
            dict(
                intervals_0=start,
                intervals_1=end,
                goCue_times=go_cue,
                response_times=response,
                choice=choice,
                stimOn_times=stim_on,
                contrastLeft=contrast if left else np.nan,
                contrastRight=np.nan if left else contrast,
                feedback_times=feedback,
                feedbackType=1 if correct else -1,
                rewardVolume=task.reward_ul if correct else 0.0,
                probabilityLeft=pl,
                firstMovement_times=first_move,
                stimOnTrigger_times=stim_trig,
                goCueTrigger_times=stim_trig,
                stimOff_times=stim_off,
                quiescencePeriod=quiescence,
            )
        )
        truth.append(
            dict(
                prior_left=prior_left,
                p_right=pr,
                bias_pct=mu,
                threshold_pct=ps.threshold_pct,
                gamma1=ps.gamma1,
                gamma2=ps.gamma2,
                predicted_value=p_correct,
                rpe=rpe,
                reaction_time_s=rt,
                movement_time_s=mt,
                disengaged=disengaged,
                stim_left=left,
            )
        )
        prior_left += ps.prior_learning_rate * ((1.0 if left else 0.0) - prior_left)
        t = end + iti_gap
    trials = pd.DataFrame(rows)
    for col in ("choice", "feedbackType"):
        trials[col] = trials[col].astype(np.int64)
    return trials, pd.DataFrame(truth)


def states_timestamps(row: pd.Series) -> dict[str, list[list[float]]]:
    """Bpod state entry/exit times of one trial, relative to its start (as iblrig's jsonable stores them)."""
    t0 = row.intervals_0

    def rel(a: float, b: float) -> list[list[float]]:
        return [[round(a - t0, 6), round(b - t0, 6)]]

    nan = [[float("nan"), float("nan")]]
    correct = row.feedbackType == 1
    stim_trig = row.stimOnTrigger_times
    return {
        "trial_start": rel(t0, t0 + 0.0001),
        "quiescent_period": rel(t0 + 0.0001, stim_trig),
        "stim_on": rel(stim_trig, stim_trig + 0.1),
        "closed_loop": rel(stim_trig + 0.1, row.response_times),
        "reward": rel(row.feedback_times, row.feedback_times + 0.1) if correct else nan,
        "error": nan if correct else rel(row.feedback_times, row.stimOff_times),
        "hide_stim": rel(row.stimOff_times, row.stimOff_times + 0.0001),
        "exit_state": rel(row.intervals_1 - 0.5, row.intervals_1),
    }
