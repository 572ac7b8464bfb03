//! Engine tests of the faer-backed factorizations (ops/linalg_decomp.rs):
//! values computed by hand, LAPACK-style pivots and info, and the errors.

use ember_core::ops::linalg_decomp as ld;
use ember_core::{Error, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

fn f64s(x: &Tensor) -> Vec<f64> {
    x.to_vec::<f64>().unwrap()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
}

#[test]
fn lu_matches_lapack_pivots() {
    // [[1, 2], [3, 4]]: getrf swaps the rows (pivot 2), L = [[1, 0], [1/3, 1]], U = [[3, 4], [0, 2/3]].
    let (lu, piv, perm, info) = ld::lu_factor_ex(&t(&[1.0, 2.0, 3.0, 4.0], &[2, 2])).unwrap();
    assert!(close(&f64s(&lu), &[3.0, 4.0, 1.0 / 3.0, 2.0 / 3.0]));
    assert_eq!(piv.to_vec::<i32>().unwrap(), vec![2, 2]);
    assert_eq!(perm.to_vec::<i64>().unwrap(), vec![1, 0]);
    assert_eq!(info.to_vec::<i32>().unwrap(), vec![0]);
}

#[test]
fn det_inv_and_singular_info() {
    let a = t(&[0.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0, 3.0], &[2, 2, 2]);
    let (s, l, d) = ld::slogdet_det(&a, "linalg.det").unwrap();
    assert!(close(&f64s(&d), &[-1.0, 6.0]));
    assert!(close(&f64s(&s), &[-1.0, 1.0]));
    assert!(close(&f64s(&l), &[0.0, 6f64.ln()]));
    let (x, info) = ld::inv_ex(&a).unwrap();
    assert!(close(
        &f64s(&x),
        &[0.0, 1.0, 1.0, 0.0, 0.5, 0.0, 0.0, 1.0 / 3.0]
    ));
    assert_eq!(info.to_vec::<i32>().unwrap(), vec![0, 0]);
    let (_, info) = ld::inv_ex(&t(&[1.0, 2.0, 2.0, 4.0], &[2, 2])).unwrap();
    assert_eq!(info.to_vec::<i32>().unwrap(), vec![2]);
}

#[test]
fn cholesky_info_is_the_failing_minor() {
    let (_, info) = ld::cholesky_ex(&t(&[1.0, 2.0, 2.0, 1.0], &[2, 2]), false).unwrap();
    assert_eq!(info.to_vec::<i32>().unwrap(), vec![2]);
    let (l, info) = ld::cholesky_ex(&t(&[4.0, 2.0, 2.0, 5.0], &[2, 2]), false).unwrap();
    assert_eq!(info.to_vec::<i32>().unwrap(), vec![0]);
    assert!(close(&f64s(&l), &[2.0, 0.0, 1.0, 2.0]));
}

#[test]
fn shape_and_dtype_errors() {
    let e = ld::inv_ex(&t(&[1.0; 6], &[2, 3])).unwrap_err();
    assert!(
        matches!(&e, Error::Runtime(m) if m == "linalg.inv: A must be batches of square matrices, but they are 2 by 3 matrices"),
        "{e:?}"
    );
    let ints = Tensor::from_vec(vec![1i64; 4], &[2, 2]);
    let e = ld::cholesky_ex(&ints, false).unwrap_err();
    assert!(
        matches!(&e, Error::NotImplemented(m) if m.ends_with("Got Long")),
        "{e:?}"
    );
    let e = ld::qr(&t(&[1.0; 4], &[2, 2]), "bad").unwrap_err();
    assert!(
        matches!(&e, Error::Runtime(m) if m.starts_with("qr received unrecognized mode 'bad'"))
    );
    let e = ld::solve_ex(&t(&[1.0; 4], &[2, 2]), &t(&[1.0; 3], &[3, 1])).unwrap_err();
    assert!(
        matches!(&e, Error::Runtime(m) if m.contains("(2x2 and 3x1)")),
        "{e:?}"
    );
}

#[test]
fn svd_and_eigh_values() {
    // diag(3, -2) has singular values 3, 2 and eigenvalues -2, 3.
    let a = t(&[3.0, 0.0, 0.0, -2.0], &[2, 2]);
    let (_, s, _) = ld::svd(&a, false, false).unwrap();
    assert!(close(&f64s(&s), &[3.0, 2.0]));
    let (w, v) = ld::eigh(&a, "L", true).unwrap();
    assert!(close(&f64s(&w), &[-2.0, 3.0]));
    let v = f64s(&v);
    assert!((v[1].abs() - 1.0).abs() < 1e-12 && (v[2].abs() - 1.0).abs() < 1e-12);
}
