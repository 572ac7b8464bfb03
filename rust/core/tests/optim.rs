//! Fused optimizer steps against the formulas of PyTorch's single-tensor
//! implementations, over several steps and every option combination.

mod common;

use common::{assert_close, vals, Rng};
use ember_core::ops::optim::{adagrad_step, adam_step, rmsprop_step, sgd_step};
use ember_core::{DType, Tensor};

fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

const SHAPES: [&[usize]; 3] = [&[3, 4], &[7], &[200, 300]];

#[test]
fn sgd_matches_formula() {
    let mut rng = Rng::new(11);
    for &(momentum, dampening, wd, nesterov, maximize) in &[
        (0.0, 0.0, 0.0, false, false),
        (0.9, 0.0, 0.0, false, false),
        (0.9, 0.1, 0.01, false, true),
        (0.8, 0.0, 0.05, true, false),
    ] {
        let lr = 0.05;
        let ps: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
        let params: Vec<Tensor> = ps.iter().zip(SHAPES).map(|(v, s)| t(v, s)).collect();
        let mut want = ps.clone();
        let mut want_buf: Vec<Option<Vec<f64>>> = vec![None; 3];
        let mut bufs: Vec<Option<Tensor>> = vec![None; 3];
        for _ in 0..4 {
            let gs: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
            let grads: Vec<Tensor> = gs.iter().zip(SHAPES).map(|(v, s)| t(v, s)).collect();
            let versions: Vec<u64> = params.iter().map(|p| p.version()).collect();
            sgd_step(
                &params, &grads, &mut bufs, lr, momentum, dampening, wd, nesterov, maximize,
            )
            .unwrap();
            assert!(
                params.iter().zip(versions).all(|(p, v)| p.version() > v),
                "version bumped"
            );
            for i in 0..3 {
                let p = &mut want[i];
                for k in 0..p.len() {
                    let mut d = if maximize { -gs[i][k] } else { gs[i][k] };
                    if wd != 0.0 {
                        d += wd * p[k];
                    }
                    if momentum != 0.0 {
                        let b = want_buf[i].get_or_insert_with(|| vec![f64::NAN; p.len()]);
                        b[k] = if b[k].is_nan() {
                            d
                        } else {
                            b[k] * momentum + (1.0 - dampening) * d
                        };
                        d = if nesterov { d + momentum * b[k] } else { b[k] };
                    }
                    p[k] += -lr * d;
                }
            }
            for i in 0..3 {
                assert_close(&vals(&params[i]), &want[i], 1e-12, 1e-12, "sgd param");
                assert_eq!(bufs[i].is_some(), momentum != 0.0);
            }
        }
    }
}

#[test]
fn adam_and_adamw_match_formula() {
    let mut rng = Rng::new(12);
    for &(wd, amsgrad, maximize, decoupled) in &[
        (0.0, false, false, false),
        (0.01, false, false, false),
        (0.01, true, true, false),
        (0.1, false, false, true),
        (0.1, true, false, true),
    ] {
        let (lr, b1, b2, eps) = (1e-2, 0.9, 0.999, 1e-8);
        for dt in [DType::F64, DType::F32] {
            let ps: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
            let mk = |v: &[f64], s: &[usize]| t(v, s).to_dtype(dt).unwrap();
            let params: Vec<Tensor> = ps.iter().zip(SHAPES).map(|(v, s)| mk(v, s)).collect();
            let zeros = || -> Vec<Tensor> {
                SHAPES
                    .iter()
                    .map(|s| Tensor::zeros(s, dt).unwrap())
                    .collect()
            };
            let (m, v, mx) = (zeros(), zeros(), if amsgrad { zeros() } else { vec![] });
            let mut want = ps.clone();
            let mut wm: Vec<Vec<f64>> = ps.iter().map(|p| vec![0.0; p.len()]).collect();
            let mut wv = wm.clone();
            let mut wmx = wm.clone();
            for step in 1..=5i64 {
                let gs: Vec<Vec<f64>> =
                    SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
                let grads: Vec<Tensor> = gs.iter().zip(SHAPES).map(|(g, s)| mk(g, s)).collect();
                adam_step(
                    &params, &grads, &m, &v, &mx, &[step; 3], lr, b1, b2, eps, wd, amsgrad,
                    maximize, decoupled,
                )
                .unwrap();
                let bc1 = 1.0 - b1.powf(step as f64);
                let bc2 = 1.0 - b2.powf(step as f64);
                for i in 0..3 {
                    for k in 0..want[i].len() {
                        let p = &mut want[i][k];
                        let mut d = if maximize { -gs[i][k] } else { gs[i][k] };
                        if wd != 0.0 {
                            if decoupled {
                                *p *= 1.0 - lr * wd;
                            } else {
                                d += wd * *p;
                            }
                        }
                        wm[i][k] = lerp(wm[i][k], d, 1.0 - b1);
                        wv[i][k] = wv[i][k] * b2 + (1.0 - b2) * d * d;
                        let denom = if amsgrad {
                            wmx[i][k] = wmx[i][k].max(wv[i][k]);
                            wmx[i][k].sqrt() / bc2.sqrt() + eps
                        } else {
                            wv[i][k].sqrt() / bc2.sqrt() + eps
                        };
                        *p += -(lr / bc1) * wm[i][k] / denom;
                    }
                }
            }
            let (atol, rtol) = if dt == DType::F64 {
                (1e-12, 1e-10)
            } else {
                (2e-5, 1e-4)
            };
            for i in 0..3 {
                assert_close(&vals(&params[i]), &want[i], atol, rtol, "adam param");
                assert_close(&vals(&m[i]), &wm[i], atol, rtol, "adam exp_avg");
                assert_close(&vals(&v[i]), &wv[i], atol, rtol, "adam exp_avg_sq");
                if amsgrad {
                    assert_close(&vals(&mx[i]), &wmx[i], atol, rtol, "adam max_exp_avg_sq");
                }
            }
        }
    }
}

#[test]
fn rmsprop_matches_formula() {
    let mut rng = Rng::new(13);
    for &(wd, momentum, centered, maximize) in &[
        (0.0, 0.0, false, false),
        (0.01, 0.9, false, false),
        (0.0, 0.0, true, true),
        (0.02, 0.5, true, false),
    ] {
        let (lr, alpha, eps) = (1e-2, 0.99, 1e-8);
        let ps: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
        let params: Vec<Tensor> = ps.iter().zip(SHAPES).map(|(v, s)| t(v, s)).collect();
        let zeros = || -> Vec<Tensor> {
            SHAPES
                .iter()
                .map(|s| Tensor::zeros(s, DType::F64).unwrap())
                .collect()
        };
        let sq = zeros();
        let buf = if momentum > 0.0 { zeros() } else { vec![] };
        let ga = if centered { zeros() } else { vec![] };
        let mut want = ps.clone();
        let z: Vec<Vec<f64>> = ps.iter().map(|p| vec![0.0; p.len()]).collect();
        let (mut wsq, mut wbuf, mut wga) = (z.clone(), z.clone(), z);
        for _ in 0..4 {
            let gs: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
            let grads: Vec<Tensor> = gs.iter().zip(SHAPES).map(|(g, s)| t(g, s)).collect();
            rmsprop_step(
                &params, &grads, &sq, &buf, &ga, lr, alpha, eps, wd, momentum, centered, maximize,
            )
            .unwrap();
            for i in 0..3 {
                for k in 0..want[i].len() {
                    let p = &mut want[i][k];
                    let mut d = if maximize { -gs[i][k] } else { gs[i][k] };
                    if wd != 0.0 {
                        d += wd * *p;
                    }
                    wsq[i][k] = wsq[i][k] * alpha + (1.0 - alpha) * d * d;
                    let avg = if centered {
                        wga[i][k] = lerp(wga[i][k], d, 1.0 - alpha);
                        (wsq[i][k] - wga[i][k] * wga[i][k]).sqrt()
                    } else {
                        wsq[i][k].sqrt()
                    } + eps;
                    if momentum > 0.0 {
                        wbuf[i][k] = wbuf[i][k] * momentum + d / avg;
                        *p += -lr * wbuf[i][k];
                    } else {
                        *p += -lr * d / avg;
                    }
                }
            }
        }
        for i in 0..3 {
            assert_close(&vals(&params[i]), &want[i], 1e-12, 1e-10, "rmsprop param");
            assert_close(&vals(&sq[i]), &wsq[i], 1e-12, 1e-10, "rmsprop square_avg");
        }
    }
}

#[test]
fn adagrad_matches_formula() {
    let mut rng = Rng::new(14);
    for &(wd, lr_decay, maximize) in &[(0.0, 0.0, false), (0.01, 0.1, false), (0.0, 0.01, true)] {
        let (lr, eps) = (0.1, 1e-10);
        let ps: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
        let params: Vec<Tensor> = ps.iter().zip(SHAPES).map(|(v, s)| t(v, s)).collect();
        let sums: Vec<Tensor> = SHAPES
            .iter()
            .map(|s| Tensor::full(s, ember_core::Scalar::Float(0.1), DType::F64).unwrap())
            .collect();
        let mut want = ps.clone();
        let mut wsum: Vec<Vec<f64>> = ps.iter().map(|p| vec![0.1; p.len()]).collect();
        for step in 1..=4i64 {
            let gs: Vec<Vec<f64>> = SHAPES.iter().map(|s| rng.vec(s.iter().product())).collect();
            let grads: Vec<Tensor> = gs.iter().zip(SHAPES).map(|(g, s)| t(g, s)).collect();
            adagrad_step(
                &params, &grads, &sums, &[step; 3], lr, lr_decay, wd, eps, maximize,
            )
            .unwrap();
            let clr = lr / (1.0 + (step - 1) as f64 * lr_decay);
            for i in 0..3 {
                for k in 0..want[i].len() {
                    let p = &mut want[i][k];
                    let mut d = if maximize { -gs[i][k] } else { gs[i][k] };
                    if wd != 0.0 {
                        d += wd * *p;
                    }
                    wsum[i][k] += d * d;
                    *p += -clr * d / (wsum[i][k].sqrt() + eps);
                }
            }
        }
        for i in 0..3 {
            assert_close(&vals(&params[i]), &want[i], 1e-12, 1e-10, "adagrad param");
            assert_close(&vals(&sums[i]), &wsum[i], 1e-12, 1e-10, "adagrad sum");
        }
    }
}

#[test]
fn views_shared_storage_half_and_errors() {
    let mut rng = Rng::new(15);
    // Parameters that are strided views of one buffer (written through the copy path).
    let flat = rng.tensor(&[4, 6]);
    let before = vals(&flat);
    let p0 = flat.narrow(1, 0, 3).unwrap();
    let p1 = flat.narrow(1, 3, 3).unwrap().transpose(0, 1).unwrap();
    let g0 = rng.tensor(&[4, 3]);
    let g1 = rng.tensor(&[3, 4]);
    let mut bufs = vec![None, None];
    sgd_step(
        &[p0.clone(), p1.clone()],
        &[g0.clone(), g1.clone()],
        &mut bufs,
        0.5,
        0.0,
        0.0,
        0.0,
        false,
        false,
    )
    .unwrap();
    let after = vals(&flat);
    let (gv0, gv1) = (vals(&g0), vals(&g1));
    for r in 0..4 {
        for cc in 0..6 {
            let g = if cc < 3 {
                gv0[r * 3 + cc]
            } else {
                gv1[(cc - 3) * 4 + r]
            };
            assert!((after[r * 6 + cc] - (before[r * 6 + cc] - 0.5 * g)).abs() < 1e-12);
        }
    }
    // float16 parameters are updated through f32 math.
    let ph = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])
        .to_dtype(DType::F16)
        .unwrap();
    let gh = Tensor::from_vec(vec![1.0f32, 1.0, 1.0], &[3])
        .to_dtype(DType::F16)
        .unwrap();
    let m = Tensor::zeros(&[3], DType::F16).unwrap();
    let v = Tensor::zeros(&[3], DType::F16).unwrap();
    adam_step(
        std::slice::from_ref(&ph),
        &[gh],
        &[m],
        &[v],
        &[],
        &[1],
        0.1,
        0.9,
        0.999,
        1e-8,
        0.0,
        false,
        false,
        false,
    )
    .unwrap();
    assert_close(&vals(&ph), &[0.9, 1.9, 2.9], 2e-3, 1e-3, "half adam");
    // Mismatched lists and shapes are errors, not panics.
    let p = rng.tensor(&[3]);
    let e = adam_step(
        std::slice::from_ref(&p),
        &[],
        &[],
        &[],
        &[],
        &[1],
        0.1,
        0.9,
        0.999,
        1e-8,
        0.0,
        false,
        false,
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("expected 1 gradients"), "{e}");
    let e = adagrad_step(
        std::slice::from_ref(&p),
        &[rng.tensor(&[4])],
        &[rng.tensor(&[3])],
        &[1],
        0.1,
        0.0,
        0.0,
        1e-10,
        false,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("does not match its parameter"),
        "{e}"
    );
    let e = sgd_step(
        &[p],
        &[rng.tensor(&[3])],
        &mut [],
        0.1,
        0.0,
        0.0,
        0.0,
        false,
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("momentum buffers"), "{e}");
}
