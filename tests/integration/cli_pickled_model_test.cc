// `landscape local --model FILE` with a torch.save(model) file (a pickled nn.Module, written by
// python3-torch in the test) names what to do instead of calling it a state dict; a state dict and a
// checkpoint dict still get the "give the architecture" message.
#include <gtest/gtest.h>

#include <fstream>

#include "process.h"

namespace landscape {
namespace {

using testing::Binary;
using testing::RunCommand;

const std::string kCli = Binary("client/landscape");

class PickledModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScopedTempDir("landscape-pickled");
    std::ofstream(dir_->path() + "/make.py") << R"(import sys, torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)
    def forward(self, x):
        return self.fc(x.flatten(1))
d = sys.argv[1]
m = Net()
torch.save(m, d + "/pickled.pt")
torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)), d + "/sequential.pt")
torch.save(m.state_dict(), d + "/state.pt")
torch.save({"state_dict": m.state_dict(), "epoch": 3}, d + "/checkpoint.pt")
torch.save(torch.jit.load(d + "/cnn.pt").state_dict(), d + "/cnn_state.pt")
)";
    // A freshly initialized built-in cnn as TorchScript, and (make.py) its state dict.
    auto cnn = RunCommand({kCli, "export-arch", "--arch", "cnn", "--input", "1x28x28", "--classes", "10", "--seed",
                           "7", "--out", dir_->path() + "/cnn.pt"});
    ASSERT_EQ(cnn.exit_code, 0) << cnn.output;
    auto r = RunCommand({LANDSCAPE_ORACLE_PYTHON, dir_->path() + "/make.py", dir_->path()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static testing::CommandResult Local(const std::string& model) {
    return RunCommand({kCli, "local", "--model", dir_->path() + "/" + model, "--data", "fashion-mnist",
                       "--max-samples", "10", "--x", "-1:1:3", "--progress", "quiet", "--out",
                       dir_->path() + "/out.h5"});
  }

  static testing::ScopedTempDir* dir_;
};
testing::ScopedTempDir* PickledModelTest::dir_ = nullptr;

TEST_F(PickledModelTest, PickledModuleNamesTheFixes) {
  for (const std::string file : {"pickled.pt", "sequential.pt"}) {
    auto r = Local(file);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("a pickled "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("torch.jit.script(model).save(\"" + file + "\")"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("landscape.local(model"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("is a state dict"), std::string::npos) << r.output;
  }
  EXPECT_NE(Local("pickled.pt").output.find("__main__.Net"), std::string::npos);
  EXPECT_NE(Local("sequential.pt").output.find("torch.nn.modules.container.Sequential"), std::string::npos);
}

TEST_F(PickledModelTest, StateDictsStillAskForTheArchitecture) {
  for (const std::string file : {"state.pt", "checkpoint.pt"}) {
    auto r = Local(file);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("is a state dict; give the architecture"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("a pickled "), std::string::npos) << r.output;
  }
}

// --arch cnn (a built-in name, as `landscape train` takes it) on a state dict: the surface equals the one
// of the TorchScript model the state dict was taken from; `hessian` takes the name too.
TEST_F(PickledModelTest, BuiltInArchitectureTakesAStateDict) {
  const std::string d = dir_->path();
  auto csv = [&](const std::vector<std::string>& model_flags, const std::string& name) {
    std::vector<std::string> argv = {kCli, "local", "--data", "synthetic:16:1x28x28", "--x", "-0.5:0.5:3",
                                     "--progress", "quiet", "--out", d + "/" + name + ".h5", "--csv",
                                     d + "/" + name + ".csv"};
    argv.insert(argv.end(), model_flags.begin(), model_flags.end());
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("open file failed"), std::string::npos) << r.output;
    return testing::ReadFile(d + "/" + name + ".csv");
  };
  const std::string scripted = csv({"--model", d + "/cnn.pt"}, "scripted");
  const std::string built = csv({"--model", d + "/cnn_state.pt", "--arch", "cnn"}, "built");
  EXPECT_NE(scripted.find("train_loss"), std::string::npos) << scripted;
  EXPECT_EQ(built, scripted);
  auto h = RunCommand({kCli, "hessian", "--model", d + "/cnn_state.pt", "--arch", "cnn", "--data",
                       "synthetic:16:1x28x28", "--top-k", "1", "--json", d + "/h.json"});
  EXPECT_EQ(h.exit_code, 0) << h.output;
  EXPECT_NE(testing::ReadFile(d + "/h.json").find("lambda_max"), std::string::npos) << h.output;
  // A state dict of another architecture: the message names the mismatch, not a LibTorch error.
  auto wrong = RunCommand({kCli, "local", "--model", d + "/cnn_state.pt", "--arch", "mlp", "--data",
                           "synthetic:16:1x28x28", "--x", "-1:1:3", "--progress", "quiet", "--out", d + "/w.h5"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("model.arch"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace landscape
