//===- Philox.cpp - Philox 4x32-10 as arith ops ---------------------------===//
//
// See Philox.h. Constants from Random123 (philox.h): multipliers
// 0xD2511F53, 0xCD9E8D57 and Weyl key increments 0x9E3779B9, 0xBB67AE85.
//
//===----------------------------------------------------------------------===//
#include "Philox.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;

namespace {
constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

Value c32(OpBuilder &b, Location loc, uint32_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(int32_t(v)));
}
Value low32(OpBuilder &b, Location loc, Value v64) {
  return arith::TruncIOp::create(b, loc, b.getI32Type(), v64);
}
Value indexLow32(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), index);
}
/// Top 24 bits of x scaled to [0, 1) (plus `offset` ulps of 2^-24).
Value toUnit(OpBuilder &b, Location loc, Value x, uint32_t offset) {
  Value bits = arith::ShRUIOp::create(b, loc, x, c32(b, loc, 8));
  if (offset)
    bits = arith::AddIOp::create(b, loc, bits, c32(b, loc, offset));
  Value f = arith::UIToFPOp::create(b, loc, b.getF32Type(), bits);
  Value scale = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(std::ldexp(1.0f, -24)));
  return arith::MulFOp::create(b, loc, f, scale);
}
} // namespace

std::array<Value, 4> flowc::emitPhilox(OpBuilder &b, Location loc, Value row,
                                       Value column, int64_t stream, Value step,
                                       Value seed) {
  std::array<Value, 4> ctr = {indexLow32(b, loc, row), indexLow32(b, loc, column),
                              c32(b, loc, uint32_t(stream)), low32(b, loc, step)};
  Value seedHigh = arith::ShRUIOp::create(
      b, loc, seed, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(32)));
  std::array<Value, 2> key = {low32(b, loc, seed), low32(b, loc, seedHigh)};
  Value m0 = c32(b, loc, kMul0), m1 = c32(b, loc, kMul1);
  Value w0 = c32(b, loc, kWeyl0), w1 = c32(b, loc, kWeyl1);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] = arith::AddIOp::create(b, loc, key[0], w0);
      key[1] = arith::AddIOp::create(b, loc, key[1], w1);
    }
    auto p0 = arith::MulUIExtendedOp::create(b, loc, m0, ctr[0]);
    auto p1 = arith::MulUIExtendedOp::create(b, loc, m1, ctr[2]);
    Value x0 = arith::XOrIOp::create(
        b, loc, arith::XOrIOp::create(b, loc, p1.getHigh(), ctr[1]), key[0]);
    Value x2 = arith::XOrIOp::create(
        b, loc, arith::XOrIOp::create(b, loc, p0.getHigh(), ctr[3]), key[1]);
    ctr = {x0, p1.getLow(), x2, p0.getLow()};
  }
  return ctr;
}

Value flowc::emitUniform(OpBuilder &b, Location loc, Value row, Value column,
                         int64_t stream, Value step, Value seed) {
  return toUnit(b, loc, emitPhilox(b, loc, row, column, stream, step, seed)[0], 0);
}

Value flowc::emitNormal(OpBuilder &b, Location loc, Value row, Value column,
                        int64_t stream, Value step, Value seed) {
  auto x = emitPhilox(b, loc, row, column, stream, step, seed);
  Value u1 = toUnit(b, loc, x[0], 1), u2 = toUnit(b, loc, x[1], 0);
  auto f = [&](double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
  };
  Value radius = math::SqrtOp::create(
      b, loc, arith::MulFOp::create(b, loc, f(-2.0), math::LogOp::create(b, loc, u1)));
  Value angle = arith::MulFOp::create(b, loc, f(2.0 * M_PI), u2);
  return arith::MulFOp::create(b, loc, radius, math::CosOp::create(b, loc, angle));
}
