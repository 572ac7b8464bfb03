//! Layout, broadcasting and type-promotion rules.

use ember_core::dtype::*;
use ember_core::layout::*;

#[test]
fn promotion_table() {
    use DType::*;
    assert_eq!(promote_types(U8, I8), I16);
    assert_eq!(promote_types(I32, I64), I64);
    assert_eq!(promote_types(Bool, U8), U8);
    assert_eq!(promote_types(F16, BF16), F32);
    assert_eq!(promote_types(I64, F16), F16);
    assert_eq!(promote_types(F32, F64), F64);
}

#[test]
fn result_type_with_scalars() {
    use DType::*;
    use Operand::*;
    assert_eq!(result_type(&[Dim(I64), Scalar(F32)]), F32);
    assert_eq!(result_type(&[Dim(F16), Scalar(F32)]), F16);
    assert_eq!(result_type(&[Dim(U8), Scalar(I64)]), U8);
    assert_eq!(result_type(&[Dim(Bool), Scalar(I64)]), I64);
    assert_eq!(result_type(&[Dim(I32), ZeroDim(F64)]), F64);
    assert_eq!(result_type(&[Dim(F32), ZeroDim(F64)]), F32);
    assert_eq!(result_type(&[Dim(I32), ZeroDim(I64)]), I32);
    assert_eq!(result_type(&[ZeroDim(I32), Scalar(F32)]), F32);
}

#[test]
fn broadcast() {
    assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
    assert_eq!(broadcast_shapes(&[], &[2, 2]), Some(vec![2, 2]));
    assert_eq!(broadcast_shapes(&[3], &[4]), None);
    assert_eq!(broadcast_shapes(&[0, 1], &[1, 5]), Some(vec![0, 5]));
}

#[test]
fn views() {
    let l = Layout::contiguous(&[2, 3, 4]);
    assert_eq!(l.strides, vec![12, 4, 1]);
    let t = l.transpose(0, 2);
    assert!(!t.is_contiguous());
    assert_eq!(t.view(&[24]), None);
    let s = l.slice(2, 1, 4, 2);
    assert_eq!(s.shape, vec![2, 3, 2]);
    assert_eq!(s.offset, 1);
    assert_eq!(s.strides, vec![12, 4, 2]);
    let v = s.view(&[6, 2]).unwrap();
    assert_eq!(v.strides, vec![4, 2]);
    assert_eq!(s.view(&[12]).unwrap().strides, vec![2]);
    let b = Layout::contiguous(&[3, 1])
        .broadcast_to(&[2, 3, 5])
        .unwrap();
    assert_eq!(b.strides, vec![0, 1, 0]);
    assert!(Layout::contiguous(&[3]).broadcast_to(&[4]).is_err());
    let d = Layout::contiguous(&[3, 3]).diagonal(1, 0, 1);
    assert_eq!(
        (d.shape.clone(), d.strides.clone(), d.offset),
        (vec![2], vec![4], 1)
    );
}

#[test]
fn offsets_iterate_row_major() {
    let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
    assert_eq!(l.offsets(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(infer_shape(&[-1, 2], 6, "view").unwrap(), vec![3, 2]);
    assert!(infer_shape(&[-1, 4], 6, "view").is_err());
}
