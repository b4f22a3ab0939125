//===- Builtins.h - The built-in functions and constants --------*- C++ -*-===//
//
// The one table of the language's built-in functions (exp, sum, where,
// reshape, normal, ddt, ...): each one's name, what it computes, its kind
// (the shape rule Sema applies and the way MLIRGen emits it) and how many
// positional arguments it takes. Sema resolves and types calls with it;
// MLIRGen picks each call's ops from it. Built-in names cannot be redefined.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_LANG_BUILTINS_H
#define FLOWC_LANG_BUILTINS_H

#include <optional>
#include <string_view>
#include <vector>

namespace flowc {

/// How Sema checks a built-in and infers its shape; several functions share
/// a kind.
enum class BuiltinKind {
  None,
  Math,    ///< exp log ...: one argument, element-wise
  Normal,  ///< a standard draw (flows: `x ~ normal(...)`; dists: normal())
  Uniform, ///< likewise, on [low, high)
  Ddt,     ///< ddt(e): the time derivative of e (flows only)
  Mse,     ///< mse(a, b): a flow's loss
  Reduce,  ///< sum mean norm: a tensor to a scalar, or over one axis
  Softmax, ///< a vector to a vector
  Where,   ///< where(cond, a, b)
  Clamp,   ///< clamp(x, lo, hi)
  MinMax,  ///< min(a, b), max(a, b)
  OneHot,  ///< one_hot(k, n): scalar k, constant n -> [n]
  Reshape, ///< reshape(x, [dims]): the same elements in another shape
  Drop,    ///< drop(y, p): label y, or the null class -1 with probability p
  Concat,  ///< concat(a, b, ..., axis: k): tensors joined along an axis
  Stack,   ///< stack(a, b, ..., axis: k): same-shaped values along a new axis
  CrossEntropy, ///< cross_entropy(logits, target[, axis: k]): a scalar loss
  Jvp,     ///< jvp(e, x, v): the derivative of e with respect to x along v
  Categorical, ///< categorical(w) or categorical(like: x): a one-hot draw along the last axis
};

/// Each built-in function: what MLIRGen emits for a call.
enum class BuiltinOp {
  Exp, Log, Log1p, Expm1, Sin, Cos, Tan, Sqrt, Tanh, Erf, Sigmoid, Abs, Round, Floor, Sg, BatchMean,
  Sum, Mean, Norm, Softmax,
  Where, Clamp, Min, Max,
  OneHot, Reshape, Drop, Concat, Stack, CrossEntropy, Jvp,
  Normal, Uniform, Categorical, Ddt, Mse,
};

/// A row of the table.
struct BuiltinFunction {
  const char *name;
  BuiltinOp op;
  BuiltinKind kind;
  /// The positional arguments a call takes (sum, mean and norm also take an
  /// optional axis); -1 for normal and uniform, whose arguments Sema binds
  /// by name (mean, std / low, high, like, shape), and categorical (its
  /// weights, or like); -2 for concat and stack,
  /// which take any number (and `axis:`).
  int arity;
};

/// Every built-in function, one row each.
const std::vector<BuiltinFunction> &builtinFunctions();

/// The built-in function called `name`, or null.
const BuiltinFunction *lookupBuiltin(std::string_view name);

/// The kind of the built-in function called `name`; None if there is none.
BuiltinKind builtinKind(std::string_view name);

/// The value of a built-in constant (pi, e).
std::optional<double> builtinConstant(std::string_view name);

/// Whether `name` is a built-in function or constant: no global
/// declaration may take it.
bool isBuiltinName(std::string_view name);

/// Whether `name` is a built-in function, which no name may redefine. A
/// local name (a flow's, a parameter, a let) may shadow a built-in constant:
/// `e` is as often an end time or an epsilon as Euler's number.
bool isBuiltinFunctionName(std::string_view name);

} // namespace flowc

#endif // FLOWC_LANG_BUILTINS_H
