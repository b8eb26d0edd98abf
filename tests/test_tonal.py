"""Tonal match: the EQ response it predicts with is pedalboard's, its prediction is the meter's on a render,
its answer is stable under round-off and stays inside the engineer's envelope."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from automix import tonal
from automix.priors import master_prior
from automix.styles import get_style
from automix.plugins import get_plugin
from automix.plugins.eq import pedalboard_filters

SR = 44100


def _pedalboard_magnitude(params, freqs, n=1 << 17):
    x = np.zeros((1, n), np.float32)
    x[0, 0] = 1.0
    h = pedalboard.Pedalboard(pedalboard_filters(SR, **params))(x, SR)[0].astype(np.float64)
    grid = np.fft.rfftfreq(n, 1.0 / SR)
    return np.interp(freqs, grid, np.abs(np.fft.rfft(h)))


@pytest.mark.parametrize("seed", range(4))
def test_eq_magnitude_is_the_production_filters(seed):
    rng = np.random.default_rng(seed)
    spec = get_plugin("eq")
    params = {p.name: float(p.from_unit(rng.uniform(0.05, 0.95))) for p in spec.params}
    freqs = np.geomspace(30, 18000, 200)
    ours = 20 * np.log10(tonal.eq_magnitude(params, SR, freqs))
    theirs = 20 * np.log10(_pedalboard_magnitude(params, freqs))
    # where the EQ cuts deep, pedalboard's float32 recursion (and JUCE zeroing IIR states below 1e-8
    # at block ends) moves its response by a fraction of a dB; elsewhere the two agree to 0.05 dB
    live, cut = theirs > -15.0, (theirs > -30.0) & (theirs <= -15.0)
    assert live.sum() > 100
    np.testing.assert_allclose(ours[live], theirs[live], atol=0.05)
    np.testing.assert_allclose(ours[cut], theirs[cut], atol=0.5)


def _pink_frames(slope_db_per_octave: float, frames: int = 60, seed: int = 0, lows: bool = True):
    """Per-frame group sums ``(centres, F, M)`` of a tilted spectrum whose level and tilt wander frame to frame."""
    from automix.meters.spectral import analysis_tables

    rng = np.random.default_rng(seed)
    _, f, _ = analysis_tables()
    fc = np.maximum(f, 20.0)
    groups = tonal._group_matrix().astype(np.float64)
    mags = []
    for _ in range(frames):
        slope = slope_db_per_octave + rng.normal(0, 1.0)
        power = (fc / 1000.0) ** (slope / (10 * np.log10(2))) / (1 + (40.0 / fc) ** 4)
        if not lows:
            power = power * (f > 1000) + 1e-12 * power
        mags.append(rng.uniform(0.2, 1.0) * np.sqrt(power) * rng.uniform(0.7, 1.3, f.size))
    mag = np.array(mags)
    fsum, msum = (mag * f) @ groups, mag @ groups
    centres = fsum.sum(axis=0) / msum.sum(axis=0)
    return centres, fsum.astype(np.float32), msum.astype(np.float32)


def _net_ok(eq, style):
    from automix.envelope import net_grid_hz

    net = tonal.net_response_db(eq.params, SR, net_grid_hz(style.envelope))
    return float(np.max(np.abs(net)))


def test_tonal_measures_are_the_meters_definition():
    """On the ungrouped per-bin data, with unit gains, the prediction is the mean of the per-frame centroids
    and shares; grouping the bins changes nothing at unit gain."""
    from automix.meters.spectral import analysis_tables

    _, f, bands = analysis_tables()
    rng = np.random.default_rng(3)
    # frames of very different levels and tilts, where per-frame and pooled averages part
    mag = rng.uniform(0, 1, (7, f.size)) * 10 ** rng.uniform(-2, 0, (7, 1)) * ((f + 50) / 1000) ** rng.uniform(
        -2, 1, (7, 1))
    per_frame_c = (mag @ f) / mag.sum(axis=1)
    per_frame_b = (mag @ bands) / mag.sum(axis=1)[:, None]
    groups = tonal._group_matrix().astype(np.float64)
    centres = ((mag * f) @ groups).sum(axis=0) / (mag @ groups).sum(axis=0)
    c, b = tonal.tonal_measures(centres, (mag * f) @ groups, mag @ groups)
    assert c == pytest.approx(per_frame_c.mean(), rel=1e-12)
    np.testing.assert_allclose(b, per_frame_b.mean(axis=0), atol=1e-12)
    # a spectrum-averaged reading (the old definition) differs: the test can tell them apart
    assert abs((mag.sum(axis=0) @ f) / mag.sum() - c) > 0.05 * c


@pytest.mark.parametrize("stem_shelf", [None, 6000.0])
def test_tone_model_derivatives_match_float64_central_differences(stem_shelf):
    """The searches run on the model's own derivatives: the centroid, the band shares, the errors and the
    envelope's net-response slack, each against central differences of the float64 values it differentiates."""
    from automix.envelope import net_grid_hz

    style = get_style("rock_punk")
    freqs, fsum, msum = _pink_frames(-3.0, frames=40, seed=5)
    msum[3] = 0.0  # a silent frame reads 0 and has no slope
    fsum[3] = 0.0
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    model = tonal.ToneModel(freqs, fsum, msum, eq.params, SR, stem_shelf)
    errors = tonal.ToneErrors(model, (2500.0, 0.1), [0.3, 0.5, 0.2], 0.05)
    grid = net_grid_hz(style.envelope)
    g = np.array([1.7, -2.2, 2.9] + ([-1.3] if stem_shelf else []))
    c, b, dc, db = model.jacobian(g)
    assert (c, b.tolist()) == (model.predict(g)[0], model.predict(g)[1].tolist())
    assert c == pytest.approx(tonal.tonal_measures(freqs, fsum, msum, model.response(g))[0], rel=1e-13)
    e, de = errors.with_jacobian(g)
    slack_jac = model.net_slack_jacobian(g, grid)
    h = 1e-4
    for i in range(g.size):
        up, down = g.copy(), g.copy()
        up[i] += h
        down[i] -= h
        (cu, bu), (cd, bd) = model.predict(up), model.predict(down)
        assert dc[i] == pytest.approx((cu - cd) / (2 * h), rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(db[:, i], (bu - bd) / (2 * h), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(de[:, i], (errors(up) - errors(down)) / (2 * h), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(slack_jac[:, i], (model.net_slack(up, grid, 4.0) - model.net_slack(down, grid, 4.0))
                                   / (2 * h), rtol=1e-6, atol=1e-8)
    assert np.abs(dc).max() > 1.0 and np.abs(db).max() > 1e-3  # the gains move the measures: the check has teeth
    if stem_shelf:
        assert not slack_jac[:, -1].any()  # the stems' shelf is not the master EQ's
        assert abs(dc[-1]) > 1.0


def test_match_tone_reaches_a_reachable_centroid_and_is_stable_under_round_off():
    style = get_style("rock_punk")
    freqs, fsum, msum = _pink_frames(-5.0)  # darker than the target: the EQ must brighten
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    before, _ = tonal.tonal_measures(freqs, fsum, msum)
    new, info = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    assert before < 0.9 * style.spectral_centroid_hz
    assert abs(info["centroid_predicted_hz"] / style.spectral_centroid_hz - 1) < style.tolerances.centroid_rel
    rng = np.random.default_rng(0)
    for _ in range(3):  # what another recording level leaves on the bus: float round-off
        noise = (1 + 1e-7 * rng.standard_normal(msum.shape)).astype(np.float32)
        again, _ = tonal.match_tone(freqs, fsum * noise, msum * noise, eq, style, SR)
        # converged: the same gains up to the settings' 0.001 dB rounding (a loose search lands ~1 dB apart)
        assert max(abs(again.params[k] - new.params[k]) for k in tonal.MOVED) <= 0.002 + 1e-9


def test_match_tone_on_two_threads_is_the_same_search(monkeypatch):
    """Each evaluation's frames split between two threads: the same sums frame by frame, so the same EQ."""
    from automix.kernels import tone_sums
    from automix.kernels.tone_sums import _SPLIT_FROM

    monkeypatch.setattr(tone_sums, "_helper", None)
    style = get_style("rock_punk")
    freqs, fsum, msum = _pink_frames(-5.0, frames=3 * _SPLIT_FROM + 7)
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    one = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    assert tone_sums._helper is None
    two = tonal.match_tone(freqs, fsum, msum, eq, style, SR, threads=2)
    assert tone_sums._helper is not None  # the second thread did take half the frames
    assert one[0].params == two[0].params and one[1] == two[1]


def test_match_tone_stays_inside_the_envelope_on_a_bus_that_wants_more():
    """A very dark bus wants far more than +4 dB of high shelf: the match stops at the envelope, with every
    gain inside its box and the net response of the whole EQ inside +-master_eq_net_max_abs_db."""
    style = get_style("rock_punk")
    env = style.envelope
    freqs, fsum, msum = _pink_frames(-12.0)
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    new, info = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    assert abs(new.params["low_shelf_gain_db"]) <= env.master_shelf_max_abs_db + 1e-9
    assert abs(new.params["high_shelf_gain_db"]) <= env.master_shelf_max_abs_db + 1e-9
    assert abs(new.params["peak2_gain_db"]) <= env.master_peak_max_abs_db + 1e-9
    net = _net_ok(new, style)
    assert net <= env.master_eq_net_max_abs_db + 1e-6
    assert net > env.master_eq_net_max_abs_db - 0.1  # it wanted more: the net limit binds, not a gain bound
    assert info["centroid_predicted_hz"] < (1 - style.tolerances.centroid_rel) * style.spectral_centroid_hz
    assert "reach" in info and info["reach"]["centroid_range_hz"][1] < style.spectral_centroid_hz
    # the plugin's own +-18 dB box would have gone further: the envelope is what stopped it
    c_wide, _ = tonal.tonal_measures(freqs, fsum, msum, tonal.eq_magnitude(
        dict(eq.params, low_shelf_gain_db=-18.0, high_shelf_gain_db=18.0), SR, freqs))
    assert c_wide > info["centroid_predicted_hz"] * 1.2


def test_match_tone_predicts_the_render_after_the_master_compressor(tmp_path):
    """The EQ sits after the master's trim and compressor, so the frames it is matched on must be theirs:
    a loud mid-range section squashed by the compressor changes its frames' spectra. The prediction
    matches the meter on the actually EQ'd render."""
    import scipy.signal
    import soundfile as sf

    from automix.engines.pedalboard_engine import StreamingChain, build_stages
    from automix.meters import StreamingMeter
    from automix.settings import PluginSettings

    rng = np.random.default_rng(1)
    n = 4 * SR
    mids = scipy.signal.sosfilt(scipy.signal.butter(4, [600, 2500], "bandpass", fs=SR, output="sos"),
                                rng.standard_normal(n))
    lows = scipy.signal.sosfilt(scipy.signal.butter(4, 150, fs=SR, output="sos"), rng.standard_normal(n))
    highs = scipy.signal.sosfilt(scipy.signal.butter(4, 6000, "highpass", fs=SR, output="sos"), rng.standard_normal(n))
    loud = (np.arange(n) // (SR // 2)) % 2 == 0  # half-second bursts of a loud mid-range part
    x = (0.6 * mids * loud + 0.15 * lows + 0.02 * highs).astype(np.float32)
    bus = tmp_path / "bus.wav"
    sf.write(str(bus), np.stack([x, x]).T, SR, subtype="FLOAT")

    style = get_style("rock_punk")
    chain = master_prior(style)
    compressor = PluginSettings("compressor", dict(next(p for p in chain if p.plugin == "compressor").params,
                                                   threshold_db=-30.0, ratio=8.0))
    eq = next(p for p in chain if p.plugin == "eq")
    trim = -4.0
    freqs, fsum, msum = tonal.bus_spectrum(str(bus), SR, [compressor], trim)
    assert fsum.dtype == np.float32 and fsum.shape == msum.shape and fsum.shape[1] == freqs.size
    new_eq, info = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    assert max(abs(v) for v in info["moves_db"].values()) > 1.0  # an EQ that actually does something

    def render(stages):
        stream = StreamingChain(build_stages(SR, stages, trim), SR, 4096)
        meter = StreamingMeter(SR, 2, true_peak=False)
        data = np.stack([x, x])
        for s in range(0, n, 4096):
            meter.process(stream.process(data[:, s:s + 4096]))
        meter.process(stream.flush())
        return meter.result()

    before = render([compressor, eq])  # "before" is the EQ at its starting gains (its 25 Hz high-pass moves it 3%)
    assert info["centroid_before_hz"] == pytest.approx(before["spectral_centroid_hz"], rel=0.005)
    after = render([compressor, new_eq])
    measured = np.array(list(after["band_balance"].values()))
    assert after["spectral_centroid_hz"] == pytest.approx(info["centroid_predicted_hz"], rel=0.005)
    np.testing.assert_allclose(measured, info["balance_predicted"], atol=0.003)

    # matched on the bus itself, the balance would be predicted further from what the master delivers (per-frame
    # shares do not see the compressor's level changes, only what it does to each frame's spectrum: 0.009 here)
    _, plain = tonal.match_tone(*tonal.bus_spectrum(str(bus), SR), eq, style, SR)
    aware = np.abs(measured - np.array(info["balance_predicted"])).max()
    assert np.abs(measured - np.array(plain["balance_predicted"])).max() > max(0.005, 3 * aware)


def _corners(eq, style, freqs, fsum, msum):
    """Centroid and shares at every corner of the envelope's box of the moved gains (8 settings)."""
    import itertools

    out = []
    for corner in itertools.product(*tonal.envelope_box(style)):
        h = tonal.eq_magnitude(dict(eq.params, **dict(zip(tonal.MOVED, corner))), SR, freqs)
        out.append(tonal.tonal_measures(freqs, fsum, msum, h))
    return out


def test_reach_is_recorded_only_for_a_miss_and_bounds_what_the_eq_can_do():
    style = get_style("rock_punk")
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    _, info = tonal.match_tone(*_pink_frames(-5.0), eq, style, SR)
    assert "reach" not in info  # reachable: the match hits it and pays nothing extra

    # nothing below 1 kHz: no master EQ setting gives the mix its low share or the target centroid
    freqs, fsum, msum = _pink_frames(-5.0, lows=False)
    _, info = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    reach = info["reach"]
    corners = _corners(eq, style, freqs, fsum, msum)
    lo, hi = reach["centroid_range_hz"]
    # the envelope's net limit keeps the searched extremes inside the box's corners, and physics bounds them
    assert min(c for c, _ in corners) - 1.0 <= lo < hi <= max(c for c, _ in corners) + 1.0
    assert 1000 < lo < hi < SR / 2
    assert reach["balance_best_error"] > style.tolerances.balance_abs
    assert reach["balance_limit"]["band"] == 0  # the low band is the one it cannot reach
    assert reach["balance_limit"]["share"] <= max(b[0] for _, b in corners) + 1e-9
    assert reach["balance_limit"]["share"] < 0.01
    # meeting both at once is no easier than meeting either alone, and no harder than the match's own answer
    tol_c, tol_b = style.tolerances.centroid_rel, style.tolerances.balance_abs
    target_c = style.spectral_centroid_hz
    centroid_alone = max(np.log(lo / target_c), np.log(target_c / hi), 0.0) / np.log1p(tol_c)
    assert reach["both_best"] >= max(centroid_alone, reach["balance_best_error"] / tol_b) - 1e-2
    got_c, got_b = info["centroid_predicted_hz"], np.array(info["balance_predicted"])
    target_b = np.array(style.frequency_balance.as_tuple())
    at_match = max(abs(np.log(got_c / target_c)) / np.log1p(tol_c), np.max(np.abs(got_b - target_b)) / tol_b)
    assert reach["both_best"] <= at_match + 1e-3
    assert reach["both_best"] > 1.0


def test_the_balance_half_of_the_reach_can_be_solved_later_to_the_same_numbers():
    """With ``later`` the reach returns its centroid range (what the stems' shelves are decided on) at once and
    fills the balance half when the deferred work runs: the same record as solved in place."""
    style = get_style("rock_punk")
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    frames = _pink_frames(-5.0, lows=False)
    _, now = tonal.match_tone(*frames, eq, style, SR)
    deferred: list = []
    _, info = tonal.match_tone(*frames, eq, style, SR, later=deferred.append)
    assert len(deferred) == 1 and set(info["reach"]) == {"centroid_range_hz"}
    deferred[0]()
    assert info == now


def test_a_shared_stem_shelf_reaches_what_the_master_alone_cannot():
    """A bright bus under a dark target: the master alone is out of reach; the joint search darkens with a
    shared stem shelf inside its range, and its prediction is the product of the two responses."""
    style = get_style("rnb_ballad")
    freqs, fsum, msum = _pink_frames(-1.0)
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    _, alone = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    assert tonal.centroid_out_of_reach(alone, style)
    new, joint = tonal.match_tone(freqs, fsum, msum, eq, style, SR, stem_shelf=(6000.0, -5.95, 5.95))
    d = joint["stem_shelf_db"]
    assert -5.95 - 1e-9 <= d < -1.0
    assert joint["centroid_predicted_hz"] < alone["centroid_predicted_hz"] * 0.95
    shelf = dict(get_plugin("eq").defaults(), high_shelf_hz=6000.0, high_shelf_gain_db=d)
    h = tonal.eq_magnitude(new.params, SR, freqs) * tonal.eq_magnitude(shelf, SR, freqs)
    c, _ = tonal.tonal_measures(freqs, fsum, msum, h)
    assert c == pytest.approx(joint["centroid_predicted_hz"], rel=1e-3)  # the settings' 0.001 dB rounding
    # the master's own moves stay in its envelope box
    for (lo, hi), k in zip(tonal.envelope_box(style), tonal.MOVED):
        assert lo - 1e-9 <= new.params[k] <= hi + 1e-9


def test_centroid_out_of_reach_is_a_miss_beyond_the_tolerance_edge_only():
    style = get_style("rnb_ballad")  # 1800 Hz, 10 %
    assert not tonal.centroid_out_of_reach({}, style)
    assert tonal.centroid_out_of_reach({"reach": {"centroid_range_hz": [2000.0, 3000.0]}}, style)
    assert not tonal.centroid_out_of_reach({"reach": {"centroid_range_hz": [1970.0, 3000.0]}}, style)
    assert tonal.centroid_out_of_reach({"reach": {"centroid_range_hz": [900.0, 1600.0]}}, style)


def test_a_long_bus_keeps_evenly_spaced_frames_within_the_memory_bound(tmp_path, monkeypatch):
    import soundfile as sf

    sr = 44100
    rng = np.random.default_rng(4)
    path = tmp_path / "bus.wav"
    sf.write(str(path), (0.1 * rng.standard_normal((20 * sr, 2))).astype(np.float32), sr, subtype="FLOAT")
    centres, f_all, m_all = tonal.bus_spectrum(str(path), sr)
    assert f_all.shape[0] > 500  # steady noise: every frame is kept
    monkeypatch.setattr(tonal, "MAX_FRAMES", f_all.shape[0] // 3)
    _, f_few, m_few = tonal.bus_spectrum(str(path), sr)
    assert f_few.shape[0] <= tonal.MAX_FRAMES
    stride = -(-f_all.shape[0] // f_few.shape[0])
    assert stride >= 3
    # the same frames, every stride-th of them (to the float32 round-off of a differently blocked product)
    np.testing.assert_allclose(f_few, f_all[::stride], rtol=1e-6)
    np.testing.assert_allclose(m_few, m_all[::stride], rtol=1e-6)


def test_a_reference_spectrum_steers_the_shape_the_centroid_and_balance_leave_open():
    import dataclasses

    from automix.reference import OCTAVES_HZ
    from automix.styles.model import FrequencyBalance

    freqs, fsum, msum = _pink_frames(-3.0, frames=80, seed=3)
    power = (msum.astype(np.float64) ** 2).sum(axis=0)
    eq = master_prior(get_style("rock_punk"))[1]
    assert eq.plugin == "eq"
    # the reference is this bus through a master EQ inside the envelope: its shape is reachable exactly
    aimed = dict(eq.params, low_shelf_gain_db=-2.0, peak2_gain_db=1.5, high_shelf_gain_db=2.5)
    h = tonal.eq_magnitude(aimed, SR, freqs)
    centroid, balance = tonal.tonal_measures(freqs, fsum, msum, h)
    members = np.array([(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2)) for c in OCTAVES_HZ], dtype=float)
    reference_db = 10 * np.log10(np.maximum(members @ (h * h * power), 1e-300)) + 7.0  # any level: only shape counts
    style = dataclasses.replace(get_style("rock_punk"), spectral_centroid_hz=round(centroid, 1),
                                frequency_balance=FrequencyBalance(*balance))
    shape = tonal.octave_shape(freqs, power, reference_db)
    assert shape(h) < 1e-9 and shape(np.ones_like(h)) > 1.0  # the distance is the shape's, whatever the level

    plain, plain_info = tonal.match_tone(freqs, fsum, msum, eq, style, SR)
    steered, info = tonal.match_tone(freqs, fsum, msum, eq, style, SR, spectrum=(power, reference_db))
    assert info["shape_predicted_db"] < 0.25 < info["shape_before_db"]
    assert info["shape_predicted_db"] <= shape(tonal.eq_magnitude(plain.params, SR, freqs)) + 1e-6
    assert abs(info["centroid_predicted_hz"] / centroid - 1) < style.tolerances.centroid_rel  # not traded away
    assert "shape_predicted_db" not in plain_info


def test_tone_sums_kernels_are_the_matrix_products():
    """The numba sums against numpy's products, and the measures do not depend on the order the groups come in."""
    from automix.kernels.tone_sums import frame_backsums, frame_sums

    rng = np.random.default_rng(8)
    fsum, msum = rng.uniform(0, 1, (37, 20)), rng.uniform(0, 1, (37, 20))
    w, u, v = rng.uniform(0.5, 2, 20), rng.uniform(0, 1, 37), rng.uniform(0, 1, (37, 4))
    starts = np.array([0, 4, 15, 20])
    out = np.empty((37, 4))
    frame_sums(fsum, msum, w, starts, out)
    np.testing.assert_allclose(out[:, 0], fsum @ w, rtol=1e-13)
    for j in range(3):
        np.testing.assert_allclose(out[:, 1 + j], msum[:, starts[j]:starts[j + 1]] @ w[starts[j]:starts[j + 1]], rtol=1e-13)
    back_f, back_m = np.full(20, np.nan), np.full((4, 20), np.nan)  # zeroed by the kernel
    frame_backsums(fsum, msum, u, v, back_f, back_m)
    np.testing.assert_allclose(back_f, fsum.T @ u, rtol=1e-13)
    np.testing.assert_allclose(back_m, v.T @ msum, rtol=1e-13)

    freqs, f, m = _pink_frames(-2.0, frames=30)
    h = tonal.eq_magnitude(dict(next(p for p in master_prior(get_style("rock_punk")) if p.plugin == "eq").params,
                                high_shelf_gain_db=3.0), SR, freqs)
    shuffle = rng.permutation(freqs.size)
    c, b = tonal.tonal_measures(freqs, f, m, h)
    c2, b2 = tonal.tonal_measures(freqs[shuffle], f[:, shuffle], m[:, shuffle], h[shuffle])
    assert c2 == pytest.approx(c, rel=1e-12)
    np.testing.assert_allclose(b2, b, atol=1e-12)


def test_toward_a_reference_the_bells_move_to_where_the_spectra_differ(monkeypatch):
    """The reference is the bus through bells the predicted master EQ has none near (a cut at 600 Hz, lifts at
    150 Hz and 5 kHz): with its peaks free to move, the match puts a cut near 600 Hz and comes closer to the
    reference's shape than moving the gains alone, inside every limit of the envelope, the centroid kept."""
    import dataclasses

    from automix.envelope import net_grid_hz
    from automix.reference import OCTAVES_HZ
    from automix.styles.model import FrequencyBalance

    freqs, fsum, msum = _pink_frames(-3.0, frames=80, seed=5)
    power = (msum.astype(np.float64) ** 2).sum(axis=0)
    eq = master_prior(get_style("rock_punk"))[1]
    aimed = dict(eq.params, peak1_hz=150.0, peak1_gain_db=2.5, peak1_q=0.8, peak2_hz=600.0, peak2_gain_db=-3.0,
                 peak2_q=1.0, peak3_hz=5000.0, peak3_gain_db=2.0, peak3_q=1.0)
    h = tonal.eq_magnitude(aimed, SR, freqs)
    centroid, balance = tonal.tonal_measures(freqs, fsum, msum, h)
    members = np.array([(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2)) for c in OCTAVES_HZ], dtype=float)
    reference_db = 10 * np.log10(np.maximum(members @ (h * h * power), 1e-300))
    style = dataclasses.replace(get_style("rock_punk"), spectral_centroid_hz=round(centroid, 1),
                                frequency_balance=FrequencyBalance(*balance))
    shape = tonal.octave_shape(freqs, power, reference_db)

    placed, info = tonal.match_tone(freqs, fsum, msum, eq, style, SR, spectrum=(power, reference_db))
    monkeypatch.setattr(tonal, "_placed", lambda *a: None)
    gains_only, plain = tonal.match_tone(freqs, fsum, msum, eq, style, SR, spectrum=(power, reference_db))
    assert "peaks_placed" in info and "peaks_placed" not in plain
    p = placed.params
    assert info["shape_predicted_db"] == pytest.approx(shape(tonal.eq_magnitude(p, SR, freqs)), abs=1e-3)
    assert info["shape_predicted_db"] < plain["shape_predicted_db"] - 0.2
    hz = [p[f"peak{i}_hz"] for i in (1, 2, 3)]
    assert hz == sorted(hz)
    cut = min((1, 2, 3), key=lambda i: p[f"peak{i}_gain_db"])
    assert p[f"peak{cut}_gain_db"] < -1.0 and abs(np.log2(p[f"peak{cut}_hz"] / 600.0)) < 0.6
    env = style.envelope
    assert all(abs(p[f"peak{i}_gain_db"]) <= env.master_peak_max_abs_db for i in (1, 2, 3))
    assert all(abs(p[k]) <= env.master_shelf_max_abs_db for k in ("low_shelf_gain_db", "high_shelf_gain_db"))
    assert np.max(np.abs(tonal.net_response_db(p, SR, net_grid_hz(env)))) <= env.master_eq_net_max_abs_db
    assert all(p[f"peak{i}_q"] == eq.params.get(f"peak{i}_q", 1.0) for i in (1, 2, 3))  # Q as predicted
    assert abs(info["centroid_predicted_hz"] / centroid - 1) < style.tolerances.centroid_rel
