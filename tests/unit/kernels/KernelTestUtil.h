//===- KernelTestUtil.h - Shared pieces of kernel-tests ---------*- C++ -*-===//
//
// kernel-tests calls the kernels that flowc generated from kernels.flow
// directly, through the C ABI that generated host code uses (MLIR's memref
// calling convention: n, seed, step, then 7 values per [n, cols] buffer, and a
// plain float for a uniform argument such as the solver step h). This header
// declares those kernels exactly as `flowc --emit=cpp kernels.flow` does, so a
// change of the ABI breaks the link or the tests, and holds what the tests
// share: an independent Philox 4x32-10 with the kernels' counter layout, and
// error measures between a kernel's output and its LibTorch reference.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TESTS_KERNELS_KERNELTESTUTIL_H
#define FLOWC_TESTS_KERNELS_KERNELTESTUTIL_H

#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>

// Copied from flowc's generated host code: one row-major [rows, cols] buffer.
#define FLOWC_ROWS(p, rows, cols)                                              \
  (p), (p), INT64_C(0), (rows), INT64_C(cols), INT64_C(cols), INT64_C(1)

// Prototypes as `flowc --emit=cpp kernels.flow` prints them.
// clang-format off
extern "C" {
void rf_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quad_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quad_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quad_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quad_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_heun_stage1(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_heun_update(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_rk4_stage1(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_rk4_stage2(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_rk4_stage3(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_rk4_update(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quad_euler_update(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void cond_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void cond_guidance(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void cond2_guidance(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void tens_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void tens_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void tens_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void join_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void join_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void join_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void jv_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void jv_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void poly_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void poly_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void vpf_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void vpf_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void lvp_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void lvp_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void tcfm_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void tcfm_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void sb_source(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void sb_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_trajectory(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float, float, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void traj_trajectory(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float, float, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void cond_trajectory(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float, float, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void cond2_trajectory(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float, float, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void sig_trajectory(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, float, float, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_dopri5_control(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_optimizer(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void rf_ema(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quad_optimizer(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void trig_optimizer(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void poly_optimizer(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void gi_guidance(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void gz_guidance(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void ga_guidance(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void gr_guidance(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
}
// clang-format on

namespace flowc_test {

/// Data of a contiguous float32 CPU tensor, the only kind a kernel takes.
inline float *buf(const torch::Tensor &t) {
  TORCH_CHECK(t.is_contiguous() && t.scalar_type() == torch::kFloat &&
              t.device().is_cpu());
  return t.data_ptr<float>();
}

/// Streams of the draws in kernels.flow (`flow.normal stream 0`,
/// `flow.uniform stream 1` in --emit=mlir).
constexpr uint32_t kSourceStream = 0, kTimeStream = 1;

//===----------------------------------------------------------------------===//
// Reference Philox 4x32-10 (Salmon et al. 2011; constants of Random123's
// philox.h), written from the paper, not from flowc's Philox.cpp.
//===----------------------------------------------------------------------===//

using Philox4x32 = std::array<uint32_t, 4>;

inline Philox4x32 philox4x32x10(Philox4x32 ctr, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) { // The key is bumped before rounds 2..10.
      key[0] += 0x9E3779B9u;
      key[1] += 0xBB67AE85u;
    }
    uint64_t p0 = uint64_t(0xD2511F53u) * ctr[0];
    uint64_t p1 = uint64_t(0xCD9E8D57u) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1),
           uint32_t(p0 >> 32) ^ ctr[3] ^ key[1], uint32_t(p0)};
  }
  return ctr;
}

/// The block a kernel draws for (row, column, stream) at (seed, step).
inline Philox4x32 drawBlock(int64_t row, int64_t column, uint32_t stream,
                            int64_t seed, int64_t step) {
  return philox4x32x10(
      {uint32_t(row), uint32_t(column), stream, uint32_t(uint64_t(step))},
      {uint32_t(uint64_t(seed)), uint32_t(uint64_t(seed) >> 32)});
}

/// U[0, 1) from the top 24 bits of word 0.
inline float referenceUniform(int64_t row, int64_t column, uint32_t stream,
                              int64_t seed, int64_t step) {
  return float(drawBlock(row, column, stream, seed, step)[0] >> 8) * 0x1p-24f;
}

/// Box-Muller in float32 (cosine branch); u1 is in (0, 1] so log is finite.
inline float referenceNormal(int64_t row, int64_t column, uint32_t stream,
                             int64_t seed, int64_t step) {
  Philox4x32 x = drawBlock(row, column, stream, seed, step);
  float u1 = float((x[0] >> 8) + 1) * 0x1p-24f;
  float u2 = float(x[1] >> 8) * 0x1p-24f;
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(float(2.0 * M_PI) * u2);
}

//===----------------------------------------------------------------------===//
// Error measures
//===----------------------------------------------------------------------===//

/// A tensor in double, for references.
inline torch::Tensor d(const torch::Tensor &t) { return t.to(torch::kDouble); }

/// max |got - want|, in double.
inline double maxAbsError(const torch::Tensor &got, const torch::Tensor &want) {
  return (got.to(torch::kDouble) - want.to(torch::kDouble))
      .abs()
      .max()
      .item<double>();
}

/// max |got - want| / (1 + |want|): absolute for small values, relative for
/// large ones, so one tolerance fits float32 results of any magnitude.
inline double maxMixedError(const torch::Tensor &got,
                            const torch::Tensor &want) {
  auto w = want.to(torch::kDouble);
  return ((got.to(torch::kDouble) - w).abs() / (1 + w.abs()))
      .max()
      .item<double>();
}

/// Prints a measured quantity, so a passing run still shows the margins.
inline void measured(const char *what, double value) {
  std::printf("[ measured ] %s = %.3g\n", what, value);
}

} // namespace flowc_test

#endif // FLOWC_TESTS_KERNELS_KERNELTESTUTIL_H
