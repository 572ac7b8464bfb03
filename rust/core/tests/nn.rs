//! conv2d / conv_transpose2d / pooling against direct-loop references, with
//! finite-difference checks of every backward (and of double backward).

mod common;

use common::{assert_close, grad_check, grad_grad_check, vals, Rng};
use ember_core::{DType, Tensor};

type P2 = (usize, usize);

#[derive(Clone, Copy, Debug)]
struct ConvCase {
    n: usize,
    c: usize,
    o: usize,
    hw: P2,
    k: P2,
    s: P2,
    p: P2,
    d: P2,
    groups: usize,
    bias: bool,
}

fn idx4(s: [usize; 4], a: usize, b: usize, c: usize, d: usize) -> usize {
    ((a * s[1] + b) * s[2] + c) * s[3] + d
}

/// Direct convolution loops (float64).
fn conv_ref(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    cs: &ConvCase,
) -> (Vec<f64>, [usize; 4]) {
    let [n, _, h, wd] = xs;
    let [o, cg, kh, kw] = ws;
    let og = o / cs.groups;
    let oh = (h + 2 * cs.p.0 - cs.d.0 * (kh - 1) - 1) / cs.s.0 + 1;
    let ow = (wd + 2 * cs.p.1 - cs.d.1 * (kw - 1) - 1) / cs.s.1 + 1;
    let ys = [n, o, oh, ow];
    let mut y = vec![0.0; n * o * oh * ow];
    for ni in 0..n {
        for oc in 0..o {
            let g = oc / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map(|b| b[oc]).unwrap_or(0.0);
                    for ci in 0..cg {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (oy * cs.s.0 + ki * cs.d.0) as isize - cs.p.0 as isize;
                                let ix = (ox * cs.s.1 + kj * cs.d.1) as isize - cs.p.1 as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                acc += x[idx4(xs, ni, g * cg + ci, iy as usize, ix as usize)]
                                    * w[idx4(ws, oc, ci, ki, kj)];
                            }
                        }
                    }
                    y[idx4(ys, ni, oc, oy, ox)] = acc;
                }
            }
        }
    }
    (y, ys)
}

/// Direct transposed-convolution loops (float64); weight is (C_in, C_out/groups, kh, kw).
#[allow(clippy::too_many_arguments)]
fn conv_t_ref(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    s: P2,
    p: P2,
    op: P2,
    d: P2,
    groups: usize,
) -> (Vec<f64>, [usize; 4]) {
    let [n, cin, h, wd] = xs;
    let [_, cog, kh, kw] = ws;
    let cig = cin / groups;
    let oh = (h - 1) * s.0 + d.0 * (kh - 1) + op.0 + 1 - 2 * p.0;
    let ow = (wd - 1) * s.1 + d.1 * (kw - 1) + op.1 + 1 - 2 * p.1;
    let cout = cog * groups;
    let ys = [n, cout, oh, ow];
    let mut y = vec![0.0; n * cout * oh * ow];
    for ni in 0..n {
        for (co, _) in (0..cout).zip(0..) {
            for oy in 0..oh {
                for ox in 0..ow {
                    y[idx4(ys, ni, co, oy, ox)] = b.map(|b| b[co]).unwrap_or(0.0);
                }
            }
        }
        for ci in 0..cin {
            let g = ci / cig;
            for iy in 0..h {
                for ix in 0..wd {
                    let v = x[idx4(xs, ni, ci, iy, ix)];
                    for co in 0..cog {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let oy = (iy * s.0 + ki * d.0) as isize - p.0 as isize;
                                let ox = (ix * s.1 + kj * d.1) as isize - p.1 as isize;
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                y[idx4(ys, ni, g * cog + co, oy as usize, ox as usize)] +=
                                    v * w[idx4(ws, ci, co, ki, kj)];
                            }
                        }
                    }
                }
            }
        }
    }
    (y, ys)
}

fn random_case(rng: &mut Rng) -> ConvCase {
    let groups = [1, 1, 2, 3][rng.below(4)];
    let c = groups * (1 + rng.below(3));
    let o = groups * (1 + rng.below(3));
    let k = (1 + rng.below(3), 1 + rng.below(3));
    let s = (1 + rng.below(3), 1 + rng.below(2));
    let d = (1 + rng.below(2), 1 + rng.below(3));
    let p = (rng.below(3), rng.below(2));
    let min_h = d.0 * (k.0 - 1) + 1;
    let min_w = d.1 * (k.1 - 1) + 1;
    let hw = (min_h + rng.below(6), min_w + rng.below(6));
    ConvCase {
        n: 1 + rng.below(3),
        c,
        o,
        hw,
        k,
        s,
        p,
        d,
        groups,
        bias: rng.below(2) == 1,
    }
}

fn run_conv(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cs: &ConvCase) -> Tensor {
    x.conv2d(w, b, cs.s, cs.p, cs.d, cs.groups).unwrap()
}

#[test]
fn conv2d_matches_direct_loops() {
    let mut rng = Rng::new(1);
    for _ in 0..60 {
        let cs = random_case(&mut rng);
        let xs = [cs.n, cs.c, cs.hw.0, cs.hw.1];
        let ws = [cs.o, cs.c / cs.groups, cs.k.0, cs.k.1];
        let (x, w, b) = (rng.tensor(&xs), rng.tensor(&ws), rng.tensor(&[cs.o]));
        let (want, ys) = conv_ref(
            &vals(&x),
            xs,
            &vals(&w),
            ws,
            cs.bias.then(|| vals(&b)).as_deref(),
            &cs,
        );
        let y = run_conv(&x, &w, cs.bias.then_some(&b), &cs);
        assert_eq!(y.shape(), &ys, "{cs:?}");
        assert_close(&vals(&y), &want, 1e-12, 1e-10, &format!("{cs:?}"));
        // float32 through the same kernels.
        let y32 = run_conv(
            &x.to_dtype(DType::F32).unwrap(),
            &w.to_dtype(DType::F32).unwrap(),
            cs.bias.then(|| b.to_dtype(DType::F32).unwrap()).as_ref(),
            &cs,
        );
        assert_eq!(y32.dtype(), DType::F32);
        assert_close(&vals(&y32), &want, 1e-5, 1e-4, &format!("f32 {cs:?}"));
    }
}

#[test]
fn conv2d_strided_inputs_and_big_batch() {
    let mut rng = Rng::new(2);
    // Non-contiguous input (a permuted view) and weight (a transposed view).
    let base = rng.tensor(&[5, 6, 2, 3]);
    let x = base.permute(&[2, 3, 0, 1]).unwrap(); // (2, 3, 5, 6)
    let wb = rng.tensor(&[3, 4, 3, 3]);
    let w = wb.transpose(0, 1).unwrap(); // (4, 3, 3, 3)
    assert!(!x.is_contiguous() && !w.is_contiguous());
    let cs = ConvCase {
        n: 2,
        c: 3,
        o: 4,
        hw: (5, 6),
        k: (3, 3),
        s: (1, 2),
        p: (1, 1),
        d: (1, 1),
        groups: 1,
        bias: false,
    };
    let (want, _) = conv_ref(&vals(&x), [2, 3, 5, 6], &vals(&w), [4, 3, 3, 3], None, &cs);
    assert_close(
        &vals(&run_conv(&x, &w, None, &cs)),
        &want,
        1e-12,
        1e-10,
        "strided",
    );
    // A batch large enough for the parallel per-image path, and a 1x1 kernel.
    for k in [(3, 3), (1, 1)] {
        let cs = ConvCase {
            n: 16,
            c: 8,
            o: 16,
            hw: (18, 18),
            k,
            s: (1, 1),
            p: (0, 0),
            d: (1, 1),
            groups: 1,
            bias: true,
        };
        let (x, w, b) = (
            rng.tensor(&[16, 8, 18, 18]),
            rng.tensor(&[16, 8, k.0, k.1]),
            rng.tensor(&[16]),
        );
        let (want, _) = conv_ref(
            &vals(&x),
            [16, 8, 18, 18],
            &vals(&w),
            [16, 8, k.0, k.1],
            Some(&vals(&b)),
            &cs,
        );
        assert_close(
            &vals(&run_conv(&x, &w, Some(&b), &cs)),
            &want,
            1e-12,
            1e-10,
            "batch",
        );
    }
}

#[test]
fn conv2d_gradients() {
    let mut rng = Rng::new(3);
    for _ in 0..12 {
        let cs = random_case(&mut rng);
        let x = rng.tensor(&[cs.n, cs.c, cs.hw.0, cs.hw.1]);
        let w = rng.tensor(&[cs.o, cs.c / cs.groups, cs.k.0, cs.k.1]);
        let b = rng.tensor(&[cs.o]);
        if cs.bias {
            grad_check(
                &[x, w, b],
                &move |t: &[Tensor]| run_conv(&t[0], &t[1], Some(&t[2]), &cs),
                40,
                &mut rng,
            );
        } else {
            grad_check(
                &[x, w],
                &move |t: &[Tensor]| run_conv(&t[0], &t[1], None, &cs),
                40,
                &mut rng,
            );
        }
    }
    // Large batch: the parallel weight-gradient reduction.
    let cs = ConvCase {
        n: 16,
        c: 8,
        o: 16,
        hw: (18, 18),
        k: (3, 3),
        s: (1, 1),
        p: (1, 1),
        d: (1, 1),
        groups: 1,
        bias: true,
    };
    let (x, w, b) = (
        rng.tensor(&[16, 8, 18, 18]),
        rng.tensor(&[16, 8, 3, 3]),
        rng.tensor(&[16]),
    );
    grad_check(
        &[x, w, b],
        &move |t: &[Tensor]| run_conv(&t[0], &t[1], Some(&t[2]), &cs),
        10,
        &mut rng,
    );
}

#[test]
fn conv2d_double_backward() {
    let mut rng = Rng::new(4);
    let cs = ConvCase {
        n: 2,
        c: 4,
        o: 4,
        hw: (5, 4),
        k: (2, 3),
        s: (2, 1),
        p: (1, 1),
        d: (1, 2),
        groups: 2,
        bias: true,
    };
    let x = rng.tensor(&[2, 4, 5, 4]);
    let w = rng.tensor(&[4, 2, 2, 3]);
    let b = rng.tensor(&[4]);
    grad_grad_check(
        &[x, w, b],
        &move |t: &[Tensor]| {
            run_conv(&t[0], &t[1], Some(&t[2]), &cs)
                .mul(&t[0].sum_all().unwrap())
                .unwrap()
        },
        12,
        &mut rng,
    );
}

#[test]
fn conv2d_unbatched_and_half() {
    let mut rng = Rng::new(5);
    let x = rng.tensor(&[3, 5, 5]);
    let w = rng.tensor(&[2, 3, 3, 3]);
    let y = x.conv2d(&w, None, (1, 1), (0, 0), (1, 1), 1).unwrap();
    assert_eq!(y.shape(), &[2, 3, 3]);
    let y4 = x
        .unsqueeze(0)
        .unwrap()
        .conv2d(&w, None, (1, 1), (0, 0), (1, 1), 1)
        .unwrap();
    assert_close(&vals(&y), &vals(&y4), 0.0, 0.0, "unbatched");
    for dt in [DType::F16, DType::BF16] {
        let yh = x
            .to_dtype(dt)
            .unwrap()
            .conv2d(&w.to_dtype(dt).unwrap(), None, (1, 1), (0, 0), (1, 1), 1)
            .unwrap();
        assert_eq!(yh.dtype(), dt);
        assert_close(&vals(&yh), &vals(&y), 0.15, 0.05, "half");
    }
}

#[test]
fn conv2d_errors() {
    let x = Tensor::zeros(&[2, 5, 6, 6], DType::F32).unwrap();
    let w = Tensor::zeros(&[4, 3, 3, 3], DType::F32).unwrap();
    let e = x
        .conv2d(&w, None, (1, 1), (0, 0), (1, 1), 1)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "Given groups=1, weight of size [4, 3, 3, 3], expected input[2, 5, 6, 6] to have 3 channels, but got 5 channels instead");
    let x = Tensor::zeros(&[1, 3, 2, 2], DType::F32).unwrap();
    let e = x
        .conv2d(&w, None, (1, 1), (0, 0), (1, 1), 1)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than actual input size");
    let b = Tensor::zeros(&[5], DType::F32).unwrap();
    let x = Tensor::zeros(&[1, 3, 4, 4], DType::F32).unwrap();
    let e = x
        .conv2d(&w, Some(&b), (1, 1), (0, 0), (1, 1), 1)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, but got bias of size [5] instead");
    let e = x
        .conv2d(&w, None, (1, 1), (0, 0), (1, 1), 3)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of size [4, 3, 3, 3] instead");
    let e = Tensor::zeros(&[3, 4], DType::F32)
        .unwrap()
        .conv2d(&w, None, (1, 1), (0, 0), (1, 1), 1)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [3, 4]"
    );
    let xi = Tensor::zeros(&[1, 3, 4, 4], DType::I64).unwrap();
    assert!(xi
        .conv2d(&w, None, (1, 1), (0, 0), (1, 1), 1)
        .unwrap_err()
        .to_string()
        .contains("not implemented for 'Long'"));
    let wt = Tensor::zeros(&[2, 3, 3, 3], DType::F32).unwrap();
    let e = x
        .conv_transpose2d(&wt, None, (1, 1), (0, 0), (0, 0), 1, (1, 1))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "Given transposed=1, weight of size [2, 3, 3, 3], expected input[1, 3, 4, 4] to have 2 channels, but got 3 channels instead");
    let wt3 = Tensor::zeros(&[3, 2, 3, 3], DType::F32).unwrap();
    let e = x
        .conv_transpose2d(&wt3, None, (1, 1), (0, 0), (1, 1), 1, (1, 1))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("output padding must be smaller than either stride or dilation"),
        "{e}"
    );
}

#[test]
fn conv_transpose2d_matches_direct_loops_and_gradients() {
    let mut rng = Rng::new(6);
    for it in 0..40 {
        let groups = [1, 2][rng.below(2)];
        let cin = groups * (1 + rng.below(3));
        let cog = 1 + rng.below(3);
        let k = (1 + rng.below(3), 1 + rng.below(3));
        let s = (1 + rng.below(3), 1 + rng.below(2));
        let d = (1 + rng.below(2), 1 + rng.below(2));
        let op = (rng.below(s.0.max(d.0)), rng.below(s.1.max(d.1)));
        let hw = (1 + rng.below(5), 1 + rng.below(5));
        let p = (rng.below(2).min((hw.0 - 1) * s.0 / 2), 0);
        let n = 1 + rng.below(2);
        let (xs, ws) = ([n, cin, hw.0, hw.1], [cin, cog, k.0, k.1]);
        let (x, w, b) = (
            rng.tensor(&xs),
            rng.tensor(&ws),
            rng.tensor(&[cog * groups]),
        );
        let (want, ys) = conv_t_ref(
            &vals(&x),
            xs,
            &vals(&w),
            ws,
            Some(&vals(&b)),
            s,
            p,
            op,
            d,
            groups,
        );
        let y = x
            .conv_transpose2d(&w, Some(&b), s, p, op, groups, d)
            .unwrap();
        assert_eq!(y.shape(), &ys);
        assert_close(&vals(&y), &want, 1e-12, 1e-10, "conv_transpose2d");
        if it % 5 == 0 {
            grad_check(
                &[x, w, b],
                &move |t: &[Tensor]| {
                    t[0].conv_transpose2d(&t[1], Some(&t[2]), s, p, op, groups, d)
                        .unwrap()
                },
                30,
                &mut rng,
            );
        }
    }
    let x = rng.tensor(&[1, 2, 3, 3]);
    let w = rng.tensor(&[2, 2, 3, 3]);
    grad_grad_check(
        &[x, w],
        &|t: &[Tensor]| {
            t[0].conv_transpose2d(&t[1], None, (2, 2), (1, 1), (1, 0), 1, (1, 1))
                .unwrap()
                .mul(&t[1].sum_all().unwrap())
                .unwrap()
        },
        10,
        &mut rng,
    );
}

// ---------------------------------------------------------------- pooling

/// PyTorch's output size rule, in signed arithmetic.
fn out_size(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let (size, k, s, p, d) = (size as i64, k as i64, s as i64, p as i64, d as i64);
    let num = size + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut o = num.div_euclid(s) + 1;
    if ceil && (o - 1) * s >= size + p {
        o -= 1;
    }
    o as usize
}

fn max_pool_ref(
    x: &[f64],
    xs: [usize; 4],
    k: P2,
    s: P2,
    p: P2,
    d: P2,
    ceil: bool,
) -> (Vec<f64>, Vec<i64>, [usize; 4]) {
    let [n, c, h, w] = xs;
    let (oh, ow) = (
        out_size(h, k.0, s.0, p.0, d.0, ceil),
        out_size(w, k.1, s.1, p.1, d.1, ceil),
    );
    let mut out = vec![];
    let mut idx = vec![];
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut best, mut bi) = (f64::NEG_INFINITY, -1i64);
                for ki in 0..k.0 {
                    for kj in 0..k.1 {
                        let iy = (oy * s.0 + ki * d.0) as isize - p.0 as isize;
                        let ix = (ox * s.1 + kj * d.1) as isize - p.1 as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let v = x[plane * h * w + iy as usize * w + ix as usize];
                        if v > best || v.is_nan() || bi < 0 {
                            best = v;
                            bi = (iy as usize * w + ix as usize) as i64;
                        }
                    }
                }
                out.push(best);
                idx.push(bi);
            }
        }
    }
    (out, idx, [n, c, oh, ow])
}

#[allow(clippy::too_many_arguments)]
fn avg_pool_ref(
    x: &[f64],
    xs: [usize; 4],
    k: P2,
    s: P2,
    p: P2,
    ceil: bool,
    include_pad: bool,
    div: Option<i64>,
) -> (Vec<f64>, [usize; 4]) {
    let [n, c, h, w] = xs;
    let (oh, ow) = (
        out_size(h, k.0, s.0, p.0, 1, ceil),
        out_size(w, k.1, s.1, p.1, 1, ceil),
    );
    let mut out = vec![];
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let (y0, x0) = (
                    (oy * s.0) as i64 - p.0 as i64,
                    (ox * s.1) as i64 - p.1 as i64,
                );
                let (y1, x1) = (
                    (y0 + k.0 as i64).min((h + p.0) as i64),
                    (x0 + k.1 as i64).min((w + p.1) as i64),
                );
                let full = (y1 - y0) * (x1 - x0);
                let (mut sum, mut cnt) = (0.0, 0);
                for iy in y0.max(0)..y1.min(h as i64) {
                    for ix in x0.max(0)..x1.min(w as i64) {
                        sum += x[plane * h * w + iy as usize * w + ix as usize];
                        cnt += 1;
                    }
                }
                let dv = div.unwrap_or(if include_pad { full } else { cnt });
                out.push(if cnt == 0 { 0.0 } else { sum / dv as f64 });
            }
        }
    }
    (out, [n, c, oh, ow])
}

fn pool_case(rng: &mut Rng, dilation: bool) -> (P2, P2, P2, P2, bool, [usize; 4]) {
    let k = (1 + rng.below(3), 1 + rng.below(4));
    let s = (1 + rng.below(3), 1 + rng.below(3));
    let p = (rng.below(k.0 / 2 + 1), rng.below(k.1 / 2 + 1));
    let d = if dilation {
        (1 + rng.below(2), 1 + rng.below(3))
    } else {
        (1, 1)
    };
    let ceil = rng.below(2) == 1;
    let h = d.0 * (k.0 - 1) + 1 + rng.below(5);
    let w = d.1 * (k.1 - 1) + 1 + rng.below(5);
    (k, s, p, d, ceil, [1 + rng.below(2), 1 + rng.below(3), h, w])
}

#[test]
fn max_pool2d_matches_reference() {
    let mut rng = Rng::new(7);
    for it in 0..80 {
        let (k, s, p, d, ceil, xs) = pool_case(&mut rng, true);
        let x = rng.tensor(&xs);
        let (want, want_i, ys) = max_pool_ref(&vals(&x), xs, k, s, p, d, ceil);
        let (y, i) = x.max_pool2d(k, s, p, d, ceil).unwrap();
        assert_eq!(
            y.shape(),
            &ys,
            "k={k:?} s={s:?} p={p:?} d={d:?} ceil={ceil} xs={xs:?}"
        );
        assert_eq!(i.dtype(), DType::I64);
        assert_close(&vals(&y), &want, 0.0, 0.0, "max_pool2d");
        assert_eq!(i.to_vec::<i64>().unwrap(), want_i);
        if it % 8 == 0 {
            grad_check(
                &[x],
                &move |t: &[Tensor]| t[0].max_pool2d(k, s, p, d, ceil).unwrap().0,
                40,
                &mut rng,
            );
        }
    }
    // PyTorch's ceil_mode rule: a last window starting in the right padding is dropped.
    let x = rng.tensor(&[1, 1, 3, 3]);
    assert_eq!(
        x.max_pool2d((2, 2), (2, 2), (1, 1), (1, 1), true)
            .unwrap()
            .0
            .shape(),
        &[1, 1, 2, 2]
    );
    // NaN wins.
    let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0, 2.0], &[1, 1, 2, 2]);
    let (y, i) = x.max_pool2d((2, 2), (2, 2), (0, 0), (1, 1), false).unwrap();
    assert!(vals(&y)[0].is_nan());
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1]);
    // Double backward through scatter/gather.
    let x = rng.tensor(&[1, 2, 5, 5]);
    grad_grad_check(
        &[x],
        &|t: &[Tensor]| {
            t[0].max_pool2d((2, 2), (2, 2), (1, 1), (1, 1), true)
                .unwrap()
                .0
                .mul(&t[0].sum_all().unwrap())
                .unwrap()
        },
        20,
        &mut rng,
    );
}

#[test]
fn avg_pool2d_matches_reference() {
    let mut rng = Rng::new(8);
    for it in 0..80 {
        let (k, s, p, _, ceil, xs) = pool_case(&mut rng, false);
        let include_pad = rng.below(2) == 1;
        let div = if rng.below(4) == 0 {
            Some(1 + rng.below(5) as i64)
        } else {
            None
        };
        let x = rng.tensor(&xs);
        let (want, ys) = avg_pool_ref(&vals(&x), xs, k, s, p, ceil, include_pad, div);
        let y = x.avg_pool2d(k, s, p, ceil, include_pad, div).unwrap();
        assert_eq!(y.shape(), &ys);
        assert_close(&vals(&y), &want, 1e-12, 1e-10, "avg_pool2d");
        if it % 8 == 0 {
            grad_check(
                &[x],
                &move |t: &[Tensor]| t[0].avg_pool2d(k, s, p, ceil, include_pad, div).unwrap(),
                40,
                &mut rng,
            );
        }
    }
    let x = rng.tensor(&[1, 2, 5, 6]);
    grad_grad_check(
        &[x],
        &|t: &[Tensor]| {
            t[0].avg_pool2d((3, 2), (2, 2), (1, 1), true, false, None)
                .unwrap()
                .mul(&t[0].sum_all().unwrap())
                .unwrap()
        },
        20,
        &mut rng,
    );
}

#[test]
fn adaptive_pools_match_reference() {
    let mut rng = Rng::new(9);
    for _ in 0..30 {
        let xs = [
            1 + rng.below(2),
            1 + rng.below(3),
            1 + rng.below(7),
            1 + rng.below(7),
        ];
        let os = (1 + rng.below(6), 1 + rng.below(6));
        let x = rng.tensor(&xs);
        let xv = vals(&x);
        let (h, w) = (xs[2], xs[3]);
        let (mut want_avg, mut want_max, mut want_idx) = (vec![], vec![], vec![]);
        for plane in 0..xs[0] * xs[1] {
            for oy in 0..os.0 {
                let (y0, y1) = (oy * h / os.0, ((oy + 1) * h).div_ceil(os.0));
                for ox in 0..os.1 {
                    let (x0, x1) = (ox * w / os.1, ((ox + 1) * w).div_ceil(os.1));
                    let (mut sum, mut best, mut bi) = (0.0, f64::NEG_INFINITY, 0i64);
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            let v = xv[plane * h * w + iy * w + ix];
                            sum += v;
                            if v > best {
                                best = v;
                                bi = (iy * w + ix) as i64;
                            }
                        }
                    }
                    want_avg.push(sum / ((y1 - y0) * (x1 - x0)) as f64);
                    want_max.push(best);
                    want_idx.push(bi);
                }
            }
        }
        let a = x.adaptive_avg_pool2d(os).unwrap();
        assert_eq!(a.shape(), &[xs[0], xs[1], os.0, os.1]);
        assert_close(&vals(&a), &want_avg, 1e-12, 1e-10, "adaptive_avg_pool2d");
        let (m, i) = x.adaptive_max_pool2d(os).unwrap();
        assert_close(&vals(&m), &want_max, 0.0, 0.0, "adaptive_max_pool2d");
        assert_eq!(i.to_vec::<i64>().unwrap(), want_idx);
    }
    let x = rng.tensor(&[2, 2, 5, 7]);
    grad_check(
        std::slice::from_ref(&x),
        &|t: &[Tensor]| t[0].adaptive_avg_pool2d((3, 2)).unwrap(),
        70,
        &mut rng,
    );
    grad_check(
        std::slice::from_ref(&x),
        &|t: &[Tensor]| t[0].adaptive_max_pool2d((3, 4)).unwrap().0,
        70,
        &mut rng,
    );
    grad_grad_check(
        &[x],
        &|t: &[Tensor]| {
            t[0].adaptive_avg_pool2d((4, 3))
                .unwrap()
                .mul(&t[0].sum_all().unwrap())
                .unwrap()
        },
        20,
        &mut rng,
    );
}

#[test]
fn pools_unbatched_large_and_errors() {
    let mut rng = Rng::new(10);
    // Unbatched (C, H, W).
    let x = rng.tensor(&[3, 6, 6]);
    let (y, i) = x.max_pool2d((2, 2), (2, 2), (0, 0), (1, 1), false).unwrap();
    assert_eq!(
        (y.shape(), i.shape()),
        (&[3usize, 3, 3][..], &[3usize, 3, 3][..])
    );
    assert_eq!(
        x.avg_pool2d((2, 2), (2, 2), (0, 0), false, true, None)
            .unwrap()
            .shape(),
        &[3, 3, 3]
    );
    assert_eq!(x.adaptive_avg_pool2d((1, 1)).unwrap().shape(), &[3, 1, 1]);
    // Large enough for the parallel plane loops, strided input.
    let big = rng
        .tensor(&[64, 24, 24, 16])
        .permute(&[0, 3, 1, 2])
        .unwrap();
    let (want, want_i, _) = max_pool_ref(
        &vals(&big),
        [64, 16, 24, 24],
        (2, 2),
        (2, 2),
        (0, 0),
        (1, 1),
        false,
    );
    let (y, i) = big
        .max_pool2d((2, 2), (2, 2), (0, 0), (1, 1), false)
        .unwrap();
    assert_close(&vals(&y), &want, 0.0, 0.0, "big max");
    assert_eq!(i.to_vec::<i64>().unwrap(), want_i);
    let (want, _) = avg_pool_ref(
        &vals(&big),
        [64, 16, 24, 24],
        (3, 3),
        (2, 2),
        (1, 1),
        true,
        true,
        None,
    );
    assert_close(
        &vals(
            &big.avg_pool2d((3, 3), (2, 2), (1, 1), true, true, None)
                .unwrap(),
        ),
        &want,
        1e-12,
        1e-10,
        "big avg",
    );
    // float32 and half.
    let x32 = x.to_dtype(DType::F32).unwrap();
    assert_eq!(
        x32.max_pool2d((2, 2), (2, 2), (0, 0), (1, 1), false)
            .unwrap()
            .0
            .dtype(),
        DType::F32
    );
    assert_eq!(
        x.to_dtype(DType::F16)
            .unwrap()
            .avg_pool2d((2, 2), (2, 2), (0, 0), false, true, None)
            .unwrap()
            .dtype(),
        DType::F16
    );
    // Errors.
    let e = x
        .max_pool2d((3, 3), (1, 1), (2, 2), (1, 1), false)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1");
    let e = x
        .avg_pool2d((2, 2), (2, 2), (0, 0), false, true, Some(0))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "divisor must be not zero");
    let small = rng.tensor(&[1, 1, 2, 2]);
    let e = small
        .max_pool2d((3, 3), (1, 1), (0, 0), (1, 1), false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"
    );
    let e = Tensor::zeros(&[1, 0, 4], DType::F32)
        .unwrap()
        .adaptive_avg_pool2d((2, 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("with dimension 1 being empty"), "{e}");
    let e = Tensor::zeros(&[4, 4], DType::F32)
        .unwrap()
        .max_pool2d((2, 2), (2, 2), (0, 0), (1, 1), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3D or 4D"), "{e}");
}
