// PixelCNN masked convolution on CUDA: stride 1, 'same' padding, odd kernels.
//
// Same decomposition as the CPU kernel (csrc/cpu/masked_conv.cpp): the taps a
// mask keeps are at most two rectangles of the kernel,
//   upper:  rows [0, p_h) x all k_w columns              (A, B, vertical_A; with the centre row for vertical_B)
//   centre: row p_h x columns [0, n), n = p_w (A) or p_w + 1 (B)
// (p_h = k_h / 2, p_w = k_w / 2), and each rectangle is an ordinary valid
// convolution (cuDNN through at::convolution) of x padded so that output
// (i, j) sees exactly the inputs that rectangle's taps touch:
//   y[i, j] = sum over taps (u, v) of the rectangle of W[u, v] x[i + u - p_h, j + v - p_w].
// For a rectangle of rows [0, r) and columns [0, c) that window starts at input
// row -p_h and column -p_w and is H + r - 1 rows by W + c - 1 columns, i.e. x
// padded by (left p_w, right c - 1 - p_w, top p_h, bottom r - 1 - p_h); a
// negative pad crops (the bottom row for the upper block of A / B / vertical_A,
// the last column for the centre block of A). Masked taps cost nothing. The
// gradient of a pad is the pad with negated amounts, so the backward is
// convolution_backward per rectangle and one negated pad; masked taps get a zero
// weight gradient.
//
// There is no custom kernel here: cuDNN's implicit GEMM is what a PixelCNN layer
// wants, and the savings of the mask (about half the taps) come from the
// decomposition.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "torch_types.h"

namespace vaestudio {
namespace cuda {
namespace {

// The kept taps rows [0, rows) x columns [column_begin, column_begin + columns)
// (row_begin is 0 or p_h) and the pads (left, right, top, bottom) of x that give
// its valid convolution the output size (H, W).
struct TapRectangle {
  int64_t row_begin, rows, columns;
  std::vector<int64_t> pads;  // at::constant_pad_nd order: left, right, top, bottom
};

std::vector<TapRectangle> kept_rectangles(int64_t kernel_height, int64_t kernel_width, const std::string& mask_type) {
  const int64_t centre_row = kernel_height / 2;
  const int64_t centre_column = kernel_width / 2;
  TORCH_CHECK(mask_type == "A" || mask_type == "B" || mask_type == "vertical_A" || mask_type == "vertical_B",
              "masked_conv2d: mask_type must be A, B, vertical_A or vertical_B, got ", mask_type);
  std::vector<TapRectangle> rectangles;
  // Rows above the centre, plus the centre row itself for vertical_B: rows [0, r).
  const int64_t upper_rows = mask_type == "vertical_B" ? centre_row + 1 : centre_row;
  if (upper_rows > 0) {
    rectangles.push_back({0, upper_rows, kernel_width,
                          {centre_column, centre_column, centre_row, upper_rows - 1 - centre_row}});
  }
  // The left part of the centre row: columns [0, n) of row p_h (window rows start at input row 0).
  const int64_t centre_columns = mask_type == "A" ? centre_column : (mask_type == "B" ? centre_column + 1 : 0);
  if (centre_columns > 0) {
    rectangles.push_back({centre_row, 1, centre_columns, {centre_column, centre_columns - 1 - centre_column, 0, 0}});
  }
  return rectangles;
}

at::Tensor rectangle_weight(const at::Tensor& weight, const TapRectangle& rectangle) {
  return weight.narrow(2, rectangle.row_begin, rectangle.rows).narrow(3, 0, rectangle.columns);
}

std::vector<int64_t> negated(const std::vector<int64_t>& pads) {
  std::vector<int64_t> result;
  for (const int64_t pad : pads) result.push_back(-pad);
  return result;
}

void check_arguments(const at::Tensor& x, const at::Tensor& weight) {
  check_cuda(x, "x");
  check_cuda(weight, "weight");
  check_same_device(x, weight, "x", "weight");
  TORCH_CHECK(x.dim() == 4, "masked_conv2d: x must have 4 dimensions (B, Cin, H, W), got shape ", x.sizes());
  TORCH_CHECK(weight.dim() == 4, "masked_conv2d: weight must have 4 dimensions (Cout, Cin, kh, kw), got shape ",
              weight.sizes());
  TORCH_CHECK(x.size(1) == weight.size(1), "masked_conv2d: x has ", x.size(1), " channels but weight expects ",
              weight.size(1));
  TORCH_CHECK(weight.size(2) % 2 == 1 && weight.size(3) % 2 == 1, "masked_conv2d: the kernel must be odd, got ",
              weight.size(2), " x ", weight.size(3));
  TORCH_CHECK(x.scalar_type() == weight.scalar_type(), "masked_conv2d: x is ", x.scalar_type(), " but weight is ",
              weight.scalar_type(), "; they must share a dtype");
}

at::Tensor valid_convolution(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias) {
  return at::convolution(input, weight, bias, /*stride=*/{1, 1}, /*padding=*/{0, 0}, /*dilation=*/{1, 1},
                         /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1);
}

at::Tensor masked_conv2d_cuda(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              c10::string_view mask_type) {
  check_arguments(x, weight);
  const bool has_bias = bias.has_value() && bias->defined();
  if (has_bias) {
    check_cuda(*bias, "bias");
    check_same_device(*bias, x, "bias", "x");
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == weight.size(0), "masked_conv2d: bias must have shape (",
                weight.size(0), ",), got ", bias->sizes());
  }
  const c10::cuda::CUDAGuard device_guard(x.device());
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), out_channels = weight.size(0);
  const auto rectangles = kept_rectangles(weight.size(2), weight.size(3), std::string(mask_type));
  if (rectangles.empty() || x.numel() == 0) {  // a 1 x 1 kernel with mask A keeps nothing; or an empty input
    at::Tensor output = at::zeros({batch, out_channels, height, width}, x.options());
    if (has_bias) output.add_(bias->view({1, out_channels, 1, 1}));
    return output;
  }
  at::Tensor output;  // (B, Cout, H, W)
  for (size_t index = 0; index < rectangles.size(); ++index) {
    const TapRectangle& rectangle = rectangles[index];
    at::Tensor part = valid_convolution(at::constant_pad_nd(x, rectangle.pads, 0),
                                        rectangle_weight(weight, rectangle).contiguous(),
                                        index == 0 && has_bias ? bias : std::nullopt);
    if (index == 0) {
      output = part;
    } else {
      output.add_(part);
    }
  }
  return output;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_conv2d_backward_cuda(const at::Tensor& grad_output,
                                                                           const at::Tensor& x,
                                                                           const at::Tensor& weight,
                                                                           c10::string_view mask_type,
                                                                           std::array<bool, 3> output_mask) {
  check_arguments(x, weight);
  check_cuda(grad_output, "grad_output");
  check_same_device(grad_output, x, "grad_output", "x");
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == x.size(0) && grad_output.size(1) == weight.size(0) &&
                  grad_output.size(2) == x.size(2) && grad_output.size(3) == x.size(3),
              "masked_conv2d_backward: grad_output must have shape (", x.size(0), ", ", weight.size(0), ", ",
              x.size(2), ", ", x.size(3), "), got ", grad_output.sizes());
  const c10::cuda::CUDAGuard device_guard(x.device());
  const auto rectangles = kept_rectangles(weight.size(2), weight.size(3), std::string(mask_type));
  const at::Tensor grad = grad_output.contiguous();  // (B, Cout, H, W)

  at::Tensor grad_x = x.new_empty({0});
  at::Tensor grad_weight = weight.new_empty({0});
  at::Tensor grad_bias = weight.new_empty({0});
  if (output_mask[0]) grad_x = at::zeros_like(x, at::MemoryFormat::Contiguous);
  if (output_mask[1]) grad_weight = at::zeros_like(weight, at::MemoryFormat::Contiguous);
  if ((output_mask[0] || output_mask[1]) && x.numel() > 0) {
    for (const TapRectangle& rectangle : rectangles) {
      const at::Tensor window = at::constant_pad_nd(x, rectangle.pads, 0);
      const at::Tensor kept_weight = rectangle_weight(weight, rectangle).contiguous();
      const auto grads = at::convolution_backward(
          grad, window, kept_weight, /*bias_sizes=*/std::nullopt, /*stride=*/{1, 1}, /*padding=*/{0, 0},
          /*dilation=*/{1, 1}, /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1,
          {output_mask[0], output_mask[1], false});
      // d/dx of pad(x) is the pad with negated amounts (crops become zero rows or columns).
      if (output_mask[0]) grad_x.add_(at::constant_pad_nd(std::get<0>(grads), negated(rectangle.pads), 0));
      if (output_mask[1]) {
        rectangle_weight(grad_weight, rectangle).copy_(std::get<1>(grads));
      }
    }
  }
  if (output_mask[2]) grad_bias = grad.sum({0, 2, 3});
  return {grad_x, grad_weight, grad_bias};
}

}  // namespace
}  // namespace cuda
}  // namespace vaestudio

TORCH_LIBRARY_IMPL(vaestudio, CUDA, m) {
  m.impl("masked_conv2d", &vaestudio::cuda::masked_conv2d_cuda);
  m.impl("masked_conv2d_backward", &vaestudio::cuda::masked_conv2d_backward_cuda);
}
