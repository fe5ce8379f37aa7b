// PixelCNN masked convolution on the CPU: stride 1, 'same' padding, odd kernels.
//
// The taps a mask keeps all lie in the kernel's top-left block of `rows` x `columns`:
// vertical_A: the rows above the centre; vertical_B: those and the centre row; A / B with a
// one-row kernel: the taps left of (and at) the centre. So the kernel is cropped to that
// block and run as one ordinary convolution (at::convolution: oneDNN where available) of the
// window the block sees: the convolution pads what is symmetric (the columns of a 2-D kernel),
// and only the asymmetric rest (rows above the centre; the left of a one-row kernel) is an
// explicit padded (or cropped) copy of the input. The rows below the centre cost nothing. For A / B with a 2-D kernel the block is rows above + the centre row,
// whose taps right of (A: and at) the centre are zeroed in the cropped weight and in its
// gradient: one convolution of (kh // 2 + 1) x kw taps measured faster than splitting off a
// thin centre-row convolution, and both are far cheaper than the full kh x kw kernel.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <string>

namespace vaestudio {
namespace {

// The kept block of a kernel: rows [0, rows) x columns [0, columns); the last `masked_tail`
// taps of its last row are masked out.
struct KeptBlock {
  int64_t rows = 0, columns = 0, masked_tail = 0;
  bool empty() const { return rows == 0 || columns == 0; }
};

KeptBlock kept_block(int64_t kernel_height, int64_t kernel_width, const std::string& mask_type) {
  const int64_t centre_row = kernel_height / 2, centre_column = kernel_width / 2;
  TORCH_CHECK(mask_type == "A" || mask_type == "B" || mask_type == "vertical_A" || mask_type == "vertical_B",
              "masked_conv2d: mask_type must be A, B, vertical_A or vertical_B, got ", mask_type);
  if (mask_type == "vertical_A") return {centre_row, kernel_width, 0};
  if (mask_type == "vertical_B") return {centre_row + 1, kernel_width, 0};
  const int64_t centre_kept = mask_type == "A" ? centre_column : centre_column + 1;
  if (kernel_height == 1) return {1, centre_kept, 0};
  return {centre_row + 1, kernel_width, kernel_width - centre_kept};
}

void check_arguments(const at::Tensor& x, const at::Tensor& weight) {
  TORCH_CHECK(x.dim() == 4, "masked_conv2d: x must be (B, Cin, H, W), got ", x.sizes());
  TORCH_CHECK(weight.dim() == 4, "masked_conv2d: weight must be (Cout, Cin, kh, kw), got ", weight.sizes());
  TORCH_CHECK(x.size(1) == weight.size(1), "masked_conv2d: x has ", x.size(1), " channels, weight expects ",
              weight.size(1));
  TORCH_CHECK(weight.size(2) % 2 == 1 && weight.size(3) % 2 == 1, "masked_conv2d: the kernel must be odd, got ",
              weight.size(2), " x ", weight.size(3));
  TORCH_CHECK(x.scalar_type() == weight.scalar_type(), "masked_conv2d: x and weight must share a dtype");
}

// How x (B, Cin, H, W) is padded so that a convolution of the kept block gives (B, Cout, H, W): the block
// sees `before` = centre rows (columns) above (left of) each output and `after` = extent - 1 - centre below
// (right of) it; negative `after` crops x (vertical_A never reads the centre row). The part both sides share
// is left to the convolution's own (symmetric) padding, which costs no copy; only the asymmetric remainder
// is an explicit padded copy of x: for 2-D kernels the block spans the whole width, so the columns are
// padded by the convolution and only the rows above the centre are copied in. A copy is skipped when
// nothing is left to pad.
struct WindowPadding {
  std::array<int64_t, 4> explicit_padding{};  // {left, right, top, bottom} of the copy; negative crops
  std::array<int64_t, 2> convolution_padding{};  // {rows, columns}: symmetric, done by the convolution
  bool needs_copy() const {
    return explicit_padding[0] != 0 || explicit_padding[1] != 0 || explicit_padding[2] != 0 ||
           explicit_padding[3] != 0;
  }
};

WindowPadding window_padding(const at::Tensor& weight, const KeptBlock& block) {
  const int64_t centre_row = weight.size(2) / 2, centre_column = weight.size(3) / 2;
  const int64_t top = centre_row, bottom = block.rows - 1 - centre_row;
  const int64_t left = centre_column, right = block.columns - 1 - centre_column;
  const int64_t shared_rows = std::max<int64_t>(0, std::min(top, bottom));
  const int64_t shared_columns = std::max<int64_t>(0, std::min(left, right));
  WindowPadding padding;
  padding.explicit_padding = {left - shared_columns, right - shared_columns, top - shared_rows, bottom - shared_rows};
  padding.convolution_padding = {shared_rows, shared_columns};
  return padding;
}

at::Tensor window(const at::Tensor& x, const WindowPadding& padding) {
  if (!padding.needs_copy()) return x;
  const auto& p = padding.explicit_padding;
  return at::constant_pad_nd(x, {p[0], p[1], p[2], p[3]}, 0);
}

// The gradient of x from the gradient of its window: the inverse padding (crop what was padded, zeros
// where the window cropped x).
at::Tensor unwindow(const at::Tensor& grad_window, const WindowPadding& padding) {
  if (!padding.needs_copy()) return grad_window;
  const auto& p = padding.explicit_padding;
  return at::constant_pad_nd(grad_window, {-p[0], -p[1], -p[2], -p[3]}, 0);
}

// weight[:, :, :rows, :columns] (contiguous) with the masked tail of its last row zeroed.
at::Tensor zero_masked_tail(at::Tensor block_weight, const KeptBlock& block) {
  if (block.masked_tail > 0) {
    block_weight.narrow(2, block.rows - 1, 1).narrow(3, block.columns - block.masked_tail, block.masked_tail).zero_();
  }
  return block_weight;
}

at::Tensor cropped_weight(const at::Tensor& weight, const KeptBlock& block) {
  return zero_masked_tail(weight.narrow(2, 0, block.rows).narrow(3, 0, block.columns).clone(at::MemoryFormat::Contiguous),
                          block);
}

at::Tensor block_convolution(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             const WindowPadding& padding) {
  return at::convolution(input, weight, bias, /*stride=*/{1, 1}, /*padding=*/padding.convolution_padding,
                         /*dilation=*/{1, 1},
                         /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1);
}

at::Tensor masked_conv2d_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             c10::string_view mask_type) {
  check_arguments(x, weight);
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3), out_channels = weight.size(0);
  const auto block = kept_block(weight.size(2), weight.size(3), std::string(mask_type));
  if (block.empty() || x.numel() == 0) {  // nothing kept (1x1 kernel with mask A), or an empty input
    auto output = at::zeros({batch, out_channels, height, width}, x.options());
    if (bias.has_value() && bias->defined()) output.add_(bias->view({1, out_channels, 1, 1}));
    return output;
  }
  const auto padding = window_padding(weight, block);
  return block_convolution(window(x, padding), cropped_weight(weight, block), bias, padding);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_conv2d_backward_cpu(const at::Tensor& grad_output,
                                                                          const at::Tensor& x,
                                                                          const at::Tensor& weight,
                                                                          c10::string_view mask_type,
                                                                          std::array<bool, 3> output_mask) {
  check_arguments(x, weight);
  const auto block = kept_block(weight.size(2), weight.size(3), std::string(mask_type));
  const auto grad = grad_output.contiguous();  // (B, Cout, H, W)
  at::Tensor grad_x = x.new_empty({0}), grad_weight = weight.new_empty({0}), grad_bias = weight.new_empty({0});
  const bool compute = !block.empty() && x.numel() > 0;
  if (output_mask[0] && !compute) grad_x = at::zeros_like(x, at::MemoryFormat::Contiguous);
  if (output_mask[1]) grad_weight = at::zeros_like(weight, at::MemoryFormat::Contiguous);
  if ((output_mask[0] || output_mask[1]) && compute) {
    const auto padding = window_padding(weight, block);
    auto grads = at::convolution_backward(grad, window(x, padding), cropped_weight(weight, block),
                                          /*bias_sizes=*/std::nullopt, /*stride=*/{1, 1},
                                          /*padding=*/padding.convolution_padding,
                                          /*dilation=*/{1, 1}, /*transposed=*/false, /*output_padding=*/{0, 0},
                                          /*groups=*/1, {output_mask[0], output_mask[1], false});
    if (output_mask[0]) grad_x = unwindow(std::get<0>(grads), padding).contiguous();
    if (output_mask[1]) {
      grad_weight.narrow(2, 0, block.rows).narrow(3, 0, block.columns).copy_(zero_masked_tail(std::get<1>(grads), block));
    }
  }
  if (output_mask[2]) grad_bias = grad.sum({0, 2, 3});
  return {grad_x, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(vaestudio, CPU, m) {
  m.impl("masked_conv2d", &masked_conv2d_cpu);
  m.impl("masked_conv2d_backward", &masked_conv2d_backward_cpu);
}

}  // namespace vaestudio
