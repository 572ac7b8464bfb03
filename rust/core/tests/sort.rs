//! Engine tests of sorting/selection, unique, scans and special functions.

use ember_core::autograd::run_backward;
use ember_core::ops::special::{digamma, erfinv, polygamma, Special, SpecialBinary};
use ember_core::{Error, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

fn f32s(x: &Tensor) -> Vec<f32> {
    x.contiguous().unwrap().to_vec::<f32>().unwrap()
}

fn i64s(x: &Tensor) -> Vec<i64> {
    x.contiguous().unwrap().to_vec::<i64>().unwrap()
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y)
}

fn grad_of(x: &Tensor, y: &Tensor, seed: &[f32]) -> Vec<f32> {
    let g = t(seed, y.shape());
    run_backward(std::slice::from_ref(y), &[g], false, false, None, false).unwrap();
    f32s(&x.grad().unwrap())
}

const NAN: f32 = f32::NAN;

#[test]
fn sort_orders_nan_last_and_keeps_ties_stable() {
    let x = t(&[3.0, NAN, 1.0, 3.0, -0.5, 1.0], &[6]);
    let (v, i) = x.sort(-1, false, false).unwrap();
    assert!(same(&f32s(&v), &[-0.5, 1.0, 1.0, 3.0, 3.0, NAN]));
    assert_eq!(i64s(&i), vec![4, 2, 5, 0, 3, 1]);
    let (v, i) = x.sort(0, true, true).unwrap();
    assert!(same(&f32s(&v), &[NAN, 3.0, 3.0, 1.0, 1.0, -0.5]));
    // Descending keeps the input order among ties (not a reversed ascending sort).
    assert_eq!(i64s(&i), vec![1, 0, 3, 2, 5, 4]);
}

#[test]
fn sort_strided_and_other_dims() {
    // [[5, 1], [2, 7], [3, 0]] transposed -> [[5, 2, 3], [1, 7, 0]]
    let x = t(&[5.0, 1.0, 2.0, 7.0, 3.0, 0.0], &[3, 2]);
    let xt = x.transpose(0, 1).unwrap();
    assert!(!xt.is_contiguous());
    let (v, i) = xt.sort(1, false, false).unwrap();
    assert_eq!(f32s(&v), vec![2.0, 3.0, 5.0, 0.0, 1.0, 7.0]);
    assert_eq!(i64s(&i), vec![1, 2, 0, 2, 0, 1]);
    let (v, i) = x.sort(0, true, false).unwrap();
    assert_eq!(v.shape(), &[3, 2]);
    assert_eq!(f32s(&v), vec![5.0, 7.0, 3.0, 1.0, 2.0, 0.0]);
    assert_eq!(i64s(&i), vec![0, 1, 2, 0, 1, 2]);
    // ints and bools
    let xi = Tensor::from_vec(vec![3i64, -1, 2, -1], &[4]);
    assert_eq!(
        xi.sort(0, false, true).unwrap().0.to_vec::<i64>().unwrap(),
        vec![-1, -1, 2, 3]
    );
    let xb = Tensor::from_vec(vec![true, false, true], &[3]);
    assert_eq!(i64s(&xb.argsort(0, false, false).unwrap()), vec![1, 0, 2]);
}

#[test]
fn sort_empty_and_scalar() {
    let x = t(&[], &[2, 0]);
    let (v, i) = x.sort(1, false, false).unwrap();
    assert_eq!(v.shape(), &[2, 0]);
    assert_eq!(i.shape(), &[2, 0]);
    let s = t(&[4.0], &[]);
    let (v, i) = s.sort(-1, false, false).unwrap();
    assert_eq!(v.shape(), &[] as &[usize]);
    assert_eq!(i64s(&i), vec![0]);
}

#[test]
fn errors_name_the_op() {
    let x = t(&[1.0, 2.0, 3.0], &[3]);
    match x.sort(1, false, false) {
        Err(Error::Index(m)) => assert!(m.contains("sort"), "{m}"),
        other => panic!("expected IndexError, got {other:?}"),
    }
    match x.topk(4, -1, true, true) {
        Err(Error::Runtime(m)) => assert!(m.contains("topk") && m.contains('4') && m.contains('3')),
        other => panic!("expected RuntimeError, got {other:?}"),
    }
    match x.kthvalue(0, -1, false) {
        Err(Error::Runtime(m)) => assert!(m.contains("kthvalue")),
        other => panic!("expected RuntimeError, got {other:?}"),
    }
    assert!(t(&[], &[0]).mode(0, false).is_err());
    assert!(t(&[], &[0]).median_dim(0, false, false).is_err());
}

#[test]
fn topk_largest_and_smallest() {
    let x = t(&[1.0, 5.0, NAN, 5.0, -2.0, 0.0], &[6]);
    let (v, i) = x.topk(3, 0, true, true).unwrap();
    assert!(same(&f32s(&v), &[NAN, 5.0, 5.0]));
    assert_eq!(i64s(&i), vec![2, 1, 3]);
    let (v, i) = x.topk(2, 0, false, true).unwrap();
    assert_eq!(f32s(&v), vec![-2.0, 0.0]);
    assert_eq!(i64s(&i), vec![4, 5]);
    let (v, _) = x.topk(0, 0, true, true).unwrap();
    assert_eq!(v.shape(), &[0]);
}

#[test]
fn kthvalue_median_mode() {
    let x = t(&[4.0, 1.0, 3.0, 2.0, 9.0, 8.0, 7.0, 6.0], &[2, 4]);
    let (v, i) = x.kthvalue(2, 1, false).unwrap();
    assert_eq!(f32s(&v), vec![2.0, 7.0]);
    assert_eq!(i64s(&i), vec![3, 2]);
    let (v, i) = x.median_dim(1, true, false).unwrap();
    assert_eq!(v.shape(), &[2, 1]);
    assert_eq!(f32s(&v), vec![2.0, 7.0]);
    assert_eq!(i64s(&i), vec![3, 2]);
    assert_eq!(f32s(&x.median_all(false).unwrap()), vec![4.0]);

    let y = t(&[1.0, NAN, 3.0, NAN, 2.0], &[5]);
    let (v, i) = y.median_dim(0, false, false).unwrap();
    assert!(v.item().unwrap().to_f64().is_nan());
    assert_eq!(i64s(&i), vec![1]);
    let (v, i) = y.median_dim(0, false, true).unwrap();
    assert_eq!(f32s(&v), vec![2.0]);
    assert_eq!(i64s(&i), vec![4]);
    assert!(f32s(&y.median_all(false).unwrap())[0].is_nan());
    assert_eq!(f32s(&y.median_all(true).unwrap()), vec![2.0]);
    assert!(f32s(&t(&[], &[0]).median_all(false).unwrap())[0].is_nan());

    let z = t(&[2.0, 1.0, 2.0, 1.0, 3.0], &[5]);
    let (v, i) = z.mode(0, false).unwrap();
    assert_eq!(f32s(&v), vec![1.0]);
    assert_eq!(i64s(&i), vec![3]);
}

#[test]
fn unique_flat_and_along_dim() {
    let x = Tensor::from_vec(vec![3i64, 1, 3, 2, 1, 1], &[2, 3]);
    let (v, inv, c) = x.unique_t(None, false).unwrap();
    assert_eq!(v.to_vec::<i64>().unwrap(), vec![1, 2, 3]);
    assert_eq!(inv.shape(), &[2, 3]);
    assert_eq!(i64s(&inv), vec![2, 0, 2, 1, 0, 0]);
    assert_eq!(i64s(&c), vec![3, 1, 2]);
    let (v, inv, c) = x.unique_t(None, true).unwrap();
    assert_eq!(v.to_vec::<i64>().unwrap(), vec![3, 1, 3, 2, 1]);
    assert_eq!(i64s(&inv), vec![0, 1, 2, 3, 4, 4]);
    assert_eq!(i64s(&c), vec![1, 1, 1, 1, 2]);
    // NaNs never merge.
    let y = t(&[NAN, 1.0, NAN], &[3]);
    let (v, _, _) = y.unique_t(None, false).unwrap();
    assert!(same(&f32s(&v), &[1.0, NAN, NAN]));
    // rows
    let m = Tensor::from_vec(vec![1i64, 2, 0, 0, 1, 2], &[3, 2]);
    let (v, inv, c) = m.unique_t(Some(0), false).unwrap();
    assert_eq!(v.shape(), &[2, 2]);
    assert_eq!(v.to_vec::<i64>().unwrap(), vec![0, 0, 1, 2]);
    assert_eq!(i64s(&inv), vec![1, 0, 1]);
    assert_eq!(i64s(&c), vec![1, 2]);
    let (v, _, _) = m.unique_t(Some(1), false).unwrap();
    assert_eq!(v.shape(), &[3, 2]);
}

#[test]
fn gradients_scatter_to_selected_positions() {
    let x = t(&[3.0, 1.0, 2.0, 0.0, 5.0, 4.0], &[2, 3]);
    x.set_requires_grad(true).unwrap();
    let (v, _) = x.sort(1, true, false).unwrap();
    // v = [[3,2,1],[5,4,0]]
    let g = grad_of(&x, &v, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(g, vec![1.0, 3.0, 2.0, 6.0, 4.0, 5.0]);

    let x = t(&[3.0, 1.0, 2.0, 0.0, 5.0, 4.0], &[2, 3]);
    x.set_requires_grad(true).unwrap();
    let (v, _) = x.topk(1, 1, true, true).unwrap();
    assert_eq!(
        grad_of(&x, &v, &[7.0, 8.0]),
        vec![7.0, 0.0, 0.0, 0.0, 8.0, 0.0]
    );

    let x = t(&[3.0, 1.0, 2.0, 0.0, 5.0, 4.0], &[2, 3]);
    x.set_requires_grad(true).unwrap();
    let (v, _) = x.median_dim(1, false, false).unwrap();
    assert_eq!(
        grad_of(&x, &v, &[1.0, 1.0]),
        vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    );

    // median of all elements shares the gradient among equal elements.
    let x = t(&[2.0, 1.0, 2.0, 7.0], &[4]);
    x.set_requires_grad(true).unwrap();
    let m = x.median_all(false).unwrap();
    assert_eq!(f32s(&m), vec![2.0]);
    assert_eq!(grad_of(&x, &m, &[1.0]), vec![0.5, 0.0, 0.5, 0.0]);

    let x = t(&[1.0, 3.0, 2.0, 3.0], &[4]);
    x.set_requires_grad(true).unwrap();
    let (v, i) = x.cummax(0, true).unwrap();
    assert_eq!(f32s(&v), vec![1.0, 3.0, 3.0, 3.0]);
    assert_eq!(i64s(&i), vec![0, 1, 1, 3]);
    assert_eq!(
        grad_of(&x, &v, &[1.0, 1.0, 1.0, 1.0]),
        vec![1.0, 2.0, 0.0, 1.0]
    );
}

#[test]
fn logcumsumexp_value_and_gradient() {
    let x = Tensor::from_vec(vec![-1000.0f64, 0.0, 1.0, f64::NEG_INFINITY], &[4]);
    x.set_requires_grad(true).unwrap();
    let y = x.logcumsumexp(0).unwrap();
    let v = y.to_vec::<f64>().unwrap();
    assert_eq!(v[0], -1000.0);
    assert!((v[1] - 0.0).abs() < 1e-12);
    let e = (1f64.exp() + 1.0).ln();
    assert!((v[2] - e).abs() < 1e-12 && (v[3] - e).abs() < 1e-12);
    let g = Tensor::from_vec(vec![1.0f64, -2.0, 0.5, 1.0], &[4]);
    run_backward(std::slice::from_ref(&y), &[g], false, false, None, false).unwrap();
    let gx = x.grad().unwrap().to_vec::<f64>().unwrap();
    // d/dx_j = sum_{i >= j} g_i exp(x_j - y_i)
    let xs = [-1000.0f64, 0.0, 1.0, f64::NEG_INFINITY];
    let gs = [1.0, -2.0, 0.5, 1.0];
    for j in 0..4 {
        let want: f64 = (j..4).map(|i| gs[i] * (xs[j] - v[i]).exp()).sum();
        assert!((gx[j] - want).abs() < 1e-9, "{j}: {} vs {want}", gx[j]);
    }
}

#[test]
fn special_functions() {
    let euler = 0.577_215_664_901_532_9;
    assert!((digamma(1.0) + euler).abs() < 1e-14);
    assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
    assert!((digamma(-0.5) - (digamma(0.5) + 2.0)).abs() < 1e-12);
    assert!((polygamma(1, 1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-12);
    // psi''(1) = -2 zeta(3)
    assert!((polygamma(2, 1.0) + 2.0 * 1.202_056_903_159_594_2).abs() < 1e-12);
    for y in [-0.999_999, -0.7, -0.1, 0.0, 0.3, 0.5, 0.9, 0.999_999_999] {
        let x = erfinv(y);
        assert!((libm::erf(x) - y).abs() < 1e-15, "{y}");
    }
    assert_eq!(erfinv(1.0), f64::INFINITY);
    assert!(erfinv(1.5).is_nan());
    let x = Tensor::from_vec(vec![0.5f64, 3.0, 10.0], &[3]);
    let lg = x.special(Special::Lgamma).unwrap().to_vec::<f64>().unwrap();
    assert!((lg[0] - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
    assert!((lg[1] - 2f64.ln()).abs() < 1e-14);
    // int input gives float32
    let xi = Tensor::from_vec(vec![1i64, 2], &[2]);
    assert_eq!(
        xi.special(Special::Lgamma).unwrap().dtype(),
        ember_core::DType::F32
    );
}

#[test]
fn special_binary_values_and_gradients() {
    let a = Tensor::from_vec(vec![3.0f64, 0.0, -1.0], &[3]);
    let b = Tensor::from_vec(vec![4.0f64, 2.0, -0.0], &[3]);
    let h = a.special_binary(&b, SpecialBinary::Hypot).unwrap();
    assert_eq!(h.to_vec::<f64>().unwrap(), vec![5.0, 2.0, 1.0]);
    let c = a.special_binary(&b, SpecialBinary::Copysign).unwrap();
    assert_eq!(c.to_vec::<f64>().unwrap(), vec![3.0, 0.0, -1.0]);
    let big = Tensor::from_vec(vec![1000.0f64, f64::NEG_INFINITY], &[2]);
    let l = big.special_binary(&big, SpecialBinary::LogAddExp).unwrap();
    let lv = l.to_vec::<f64>().unwrap();
    assert!((lv[0] - (1000.0 + 2f64.ln())).abs() < 1e-12);
    assert_eq!(lv[1], f64::NEG_INFINITY);
    let x = Tensor::from_vec(vec![0.0f64, 2.0], &[2]);
    let y = Tensor::from_vec(vec![0.0f64, 3.0], &[2]);
    x.set_requires_grad(true).unwrap();
    let z = x.special_binary(&y, SpecialBinary::Xlogy).unwrap();
    assert_eq!(z.to_vec::<f64>().unwrap(), vec![0.0, 2.0 * 3f64.ln()]);
    run_backward(
        &[z],
        &[Tensor::from_vec(vec![1.0f64, 1.0], &[2])],
        false,
        false,
        None,
        false,
    )
    .unwrap();
    let g = x.grad().unwrap().to_vec::<f64>().unwrap();
    assert_eq!(g, vec![0.0, 3f64.ln()]);
}
