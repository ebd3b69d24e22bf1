#include "landscape/core/architectures.h"

#include <regex>

namespace landscape::core {

const std::vector<ArchitectureInfo>& Architectures() {
  static const std::vector<ArchitectureInfo> kAll = {
      {"mlp", "multilayer perceptron 512-256 with ReLU"},
      {"cnn", "small CNN: 2 x (conv3x3 + BN + ReLU + max-pool), FC 128, classifier"},
      {"resnet20", "CIFAR ResNet-20 (He et al.), projection shortcuts"},
      {"resnet32", "CIFAR ResNet-32"},
      {"resnet44", "CIFAR ResNet-44"},
      {"resnet56", "CIFAR ResNet-56"},
      {"resnet110", "CIFAR ResNet-110 (any depth 6n+2 but 50; resnet50_16 is the CIFAR ResNet-50)"},
      {"resnet18", "ImageNet-style ResNet-18 at CIFAR resolution (the reference's ResNet18: 64-512 channels)"},
      {"resnet34", "ImageNet-style ResNet-34"},
      {"resnet50", "ImageNet-style ResNet-50, bottleneck blocks (the reference's ResNet50)"},
      {"resnet101", "ImageNet-style ResNet-101, bottleneck blocks"},
      {"resnet152", "ImageNet-style ResNet-152, bottleneck blocks"},
      {"resnetN_noshort", "any of the above without skip connections (e.g. resnet56_noshort, resnet50_16_noshort)"},
      {"wrn56_K", "Wide-ResNet-56 with width factor K (e.g. wrn56_2, wrn56_4, wrn56_8; _noshort too)"},
      {"vgg9", "VGG-9 of the paper: 7 conv + BN, FC 256 + BN, classifier"},
      {"densenet_small", "DenseNet-BC, 4 dense blocks of 2 bottleneck layers, growth 12"},
      {"densenet_cifar", "DenseNet-BC [6,12,24,16], growth 12 (the reference's densenet_cifar)"},
      {"densenet121", "DenseNet-121 [6,12,24,16], growth 32"},
  };
  return kAll;
}

bool IsArchitectureName(const std::string& name) {
  // The families the zoo builds; depths and widths it refuses (resnet7) are still names, refused
  // there with the rule they break.
  static const std::regex kPattern(R"(mlp|cnn|vgg9|densenet_small|densenet_cifar|densenet121|)"
                                   R"(resnet\d+(_16)?(_noshort)?|wrn\d+_\d+(_noshort)?)");
  return std::regex_match(name, kPattern);
}

std::string ArchitectureNameList() {
  std::string out;
  for (const ArchitectureInfo& a : Architectures()) out += (out.empty() ? "" : ", ") + a.name;
  return out;
}

}  // namespace landscape::core
