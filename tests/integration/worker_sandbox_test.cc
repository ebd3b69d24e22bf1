// The worker's sandbox with real processes: a redis-server of its own, landscape-server and
// landscape-worker. A job whose evaluation process crashes, outgrows its memory budget or its
// deadline, fails with the reason (a crash after a second try: the poison rule); the same worker then
// computes the next job. A cancelled
// preparation frees the worker.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "landscape/core/sha256.h"
#include "landscape/redis/connection.h"
#include "landscape/redis/reply.h"
#include "cluster.h"

namespace landscape {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CountOf;
using testing::Process;
using testing::RunCommand;
using testing::WaitFor;

const std::string kCli = testing::CliBinary();

// A small CNN trained once per test process (two checkpoints, model_0.pt and model_1.pt).
const std::string& Workdir() {
  static const testing::ScopedTempDir tmp("landscape-sandbox-test");
  static const std::string dir = [] {
    const std::string d = tmp.path();
    auto r = RunCommand({kCli, "train", "--arch", "cnn", "--data", "fashion-mnist", "--max-samples", "256", "--epochs",
                         "1", "--eval-samples", "-1", "--threads", "1", "--out", d + "/model"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return d;
  }();
  return dir;
}
std::string Model() { return Workdir() + "/model/model_1.pt"; }

// The sandbox tests' cluster: a redis-server of its own, then the server (each test starts it) and worker
// "w1" (started with the flags under test).
testing::ClusterOptions SandboxCluster() {
  testing::ClusterOptions o;
  o.dir_prefix = "landscape-sandbox";
  return o;
}

std::vector<std::string> SmallJob(int samples = 64) {
  return {"--model", Model(), "--data", "fashion-mnist", "--max-samples", std::to_string(samples),
          "--x",     "-1:1:3", "--y",   "-1:1:3"};
}

// The worker's process and every child it has: their summed resident memory, bytes.
int64_t ResidentOfTree(pid_t root) {
  int64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = testing::ReadFile(e.path().string() + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (std::stoi(name) != root && ppid != root) continue;
    int64_t size = 0, rss = 0;
    if (std::sscanf(testing::ReadFile(e.path().string() + "/statm").c_str(), "%ld %ld", &size, &rss) == 2) {
      total += rss * 4096;
    }
  }
  return total;
}

// A TorchScript archive that crashes LibTorch 1.13 when it is loaded: a scripted model whose code holds
// an expression nested 300,000 parentheses deep. TorchScript's recursive-descent parser overflows its
// stack (SIGSEGV) inside torch::jit::load, before any check of ours could refuse the file.
std::string CrashingModel() {
  static const std::string path = [] {
    const std::string out = Workdir() + "/crash.pt";
    const char* script = R"PY(
import sys, zipfile, torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)
    def forward(self, x):
        return self.fc(x.flatten(1))
plain, out = sys.argv[1] + ".plain", sys.argv[1]
torch.jit.script(Net()).save(plain)
depth = 300000
with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
    for item in zin.infolist():
        data = zin.read(item.filename)
        if item.filename.endswith("code/__torch__.py"):
            nested = "(" * depth + "1" + ")" * depth
            data = data.decode().replace("return ", "_deep = " + nested + "\n    return ", 1).encode()
        zout.writestr(item, data)
)PY";
    // A file, not `python3 -c`: torch.jit.script reads the class's source.
    const std::string maker = Workdir() + "/make_crash.py";
    std::ofstream(maker) << script;
    auto r = RunCommand({"/usr/bin/python3", maker, out});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    // The file really crashes LibTorch: loading it in a process of its own dies by SIGSEGV.
    auto load = RunCommand({"/usr/bin/python3", "-c", "import sys, torch; torch.jit.load(sys.argv[1])", out});
    EXPECT_EQ(load.exit_code, 128 + SIGSEGV) << load.output;
    return out;
  }();
  return path;
}

// (a) The poison rule: a model that kills its evaluation process is tried twice (--max-task-crashes, default
// 2), then dead-lettered with the reason; its job fails, and a job submitted with it by another user is
// unaffected, on the same worker.
TEST(WorkerSandboxTest, APoisonModelIsDeadLetteredAfterTwoCrashesAndOtherJobsRun) {
  testing::Cluster c(SandboxCluster());
  c.StartServer();
  Process& w = *c.StartWorker("w1");
  std::vector<std::string> crash = SmallJob(64);
  crash[1] = CrashingModel();
  const std::string bad = c.Submit(crash);
  const std::string good = c.Submit(SmallJob(64));
  ASSERT_EQ(c.WaitFinal(bad), "FAILED");
  const std::string error = c.JobField(bad, "error");
  EXPECT_NE(error.find("the preparation crashed the evaluation process 2 times (last: the model crashed the "
                       "evaluation process (signal 11 SIGSEGV) while preparing"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("dead-letter"), std::string::npos) << error;
  EXPECT_EQ(c.JobField(bad, "crashes:prepare"), "2");
  auto conn = redis::Connection::Connect(*redis::ParseRedisUrl(c.redis().url()));
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto dead = (*conn)->Command({"XRANGE", "lls:deadletter", "-", "+"});
  ASSERT_TRUE(dead.ok()) << dead.status();
  auto entries = redis::ParseEntries(dead->view(), "XRANGE");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].Get("job"), bad);
  EXPECT_EQ((*entries)[0].Get("kind"), "prepare");
  EXPECT_EQ((*entries)[0].Get("crashes"), "2");
  const std::string log = w.Log();
  EXPECT_EQ(CountOf(log, "evaluation process died, released for another try"), 1) << log;
  EXPECT_EQ(CountOf(log, "evaluation process died, dead-lettered (poison)"), 1) << log;
  EXPECT_EQ(c.WaitFinal(good), "SUCCEEDED") << c.JobField(good, "error") << log;
  EXPECT_TRUE(w.Running());
}

// (b) A job over its memory budget fails naming it; the worker stays small and runs the next job.
TEST(WorkerSandboxTest, AJobOverItsMemoryBudgetFailsNamingItAndTheNextJobRuns) {
  testing::Cluster c(SandboxCluster());
  c.StartServer();
  const int64_t budget = 420 << 20;
  Process& w = *c.StartWorker("w1", {"--job-memory-bytes", std::to_string(budget)});
  const std::string big = c.Submit(SmallJob(60000));  // the whole training set as floats, on top of LibTorch
  ASSERT_EQ(c.WaitFinal(big), "FAILED");
  const std::string error = c.JobField(big, "error");
  EXPECT_NE(error.find("job memory budget of " + std::to_string(budget) + " bytes (--job-memory-bytes) exceeded"),
            std::string::npos)
      << error;
  ASSERT_TRUE(w.Running());
  const std::string small = c.Submit(SmallJob(64));
  EXPECT_EQ(c.WaitFinal(small), "SUCCEEDED") << c.JobField(small, "error") << w.Log();
  // The worker and its job's process together: under the budget plus the worker's own share.
  EXPECT_LT(ResidentOfTree(w.pid()), 2 * budget);
}

// (c) A tile over its deadline fails its job naming the flag.
TEST(WorkerSandboxTest, ATileOverItsDeadlineFailsItsJobNamingTheFlag) {
  testing::Cluster c(SandboxCluster());
  c.StartServer();
  Process& w = *c.StartWorker("w1", {"--tile-timeout", "0.1"});
  std::vector<std::string> spec = SmallJob(2000);
  spec.insert(spec.end(), {"--tile-size", "9"});  // nine points of 2,000 samples: seconds on one thread
  const std::string id = c.Submit(spec);
  ASSERT_EQ(c.WaitFinal(id), "FAILED");
  const std::string error = c.JobField(id, "error");
  EXPECT_NE(error.find("(--tile-timeout) exceeded while computing tile"), std::string::npos) << error;
  EXPECT_TRUE(w.Running());
}

// (d) Cancelling a job whose preparation runs (a PCA over 300 checkpoints: a minute and more) frees the
// worker within its heartbeat: the next job's preparation starts soon after.
TEST(WorkerSandboxTest, CancellingAPreparationFreesTheWorkerWithinAHeartbeat) {
  testing::Cluster c(SandboxCluster());
  c.StartServer();
  Process& w = *c.StartWorker("w1", {"--heartbeat-ms", "500"});
  std::vector<std::string> spec = SmallJob(64);
  spec.push_back("--checkpoints");
  for (int i = 0; i < 150; ++i) {
    spec.push_back(Workdir() + "/model/model_0.pt");
    spec.push_back(Model());
  }
  const std::string slow = c.Submit(spec);
  ASSERT_TRUE(WaitFor([&] { return w.Log().find("preparing job_id=" + slow) != std::string::npos; }, seconds(60)));
  std::this_thread::sleep_for(seconds(2));
  ASSERT_EQ(c.JobField(slow, "state"), "PREPARING");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = RunCommand({kCli, "cancel", "--server", c.Addr(), slow});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(WaitFor([&] { return w.Log().find("preparation abandoned, job ended") != std::string::npos; },
                      seconds(30)))
      << w.Log();
  const double freed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // One heartbeat (0.5 s) and the CLI's own start: a generous bound, far below the preparation's minute.
  EXPECT_LT(freed_s, 15.0) << w.Log();
  const std::string next = c.Submit(SmallJob(64));
  EXPECT_EQ(c.WaitFinal(next), "SUCCEEDED") << c.JobField(next, "error") << w.Log();
  EXPECT_EQ(c.JobField(slow, "state"), "CANCELLED");
}

// (e) The worker's artifact cache is never reachable by path, even inside a root the operator allows on
// the server and the worker; a file in that root outside the cache still is.
TEST(WorkerSandboxTest, APathIntoTheWorkersCacheIsRefusedByTheWorkerEvenInsideAnAllowedRoot) {
  testing::Cluster c(SandboxCluster());
  c.StartServer({"--allow-path-root", c.dir()});
  Process& w = *c.StartWorker("w1", {"--allow-path-root", c.dir()});
  const std::string uploaded = c.Submit(SmallJob(64));  // puts the model into the worker's cache
  ASSERT_EQ(c.WaitFinal(uploaded), "SUCCEEDED") << c.JobField(uploaded, "error");
  const std::string cached = c.CacheDir("w1") + "/" + core::Sha256Hex(testing::ReadFile(Model()));
  ASSERT_TRUE(std::filesystem::exists(cached));
  std::vector<std::string> spec = SmallJob(64);
  spec[1] = "file://" + cached;
  const std::string id = c.Submit(spec);
  ASSERT_EQ(c.WaitFinal(id), "FAILED");
  const std::string error = c.JobField(id, "error");
  EXPECT_NE(error.find("is inside a directory that is never reachable by path"), std::string::npos) << error;
  // The same bytes in the allowed root, outside the cache: the operator's allowance works.
  const std::string copy = c.dir() + "/shared-model.pt";
  std::filesystem::copy_file(Model(), copy);
  spec[1] = "file://" + copy;
  const std::string ok = c.Submit(spec);
  EXPECT_EQ(c.WaitFinal(ok), "SUCCEEDED") << c.JobField(ok, "error") << w.Log();
}

// (f) A data directory is checked on the worker too, where it is opened: a worker whose roots are
// narrower than the server's refuses an idx: directory outside them, and reads one inside.
TEST(WorkerSandboxTest, AnIdxDirectoryOutsideTheWorkersRootsIsRefusedByTheWorker) {
  testing::Cluster c(SandboxCluster());
  c.StartServer({"--allow-path-root", c.dir()});
  const std::string inner = c.dir() + "/inner";
  std::filesystem::create_directories(inner + "/fm");
  std::filesystem::create_directories(c.dir() + "/fm");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}) {
    std::filesystem::copy_file(std::string("/usr/share/datasets/fashion-mnist/") + f, c.dir() + "/fm/" + f);
    std::filesystem::copy_file(std::string("/usr/share/datasets/fashion-mnist/") + f, inner + "/fm/" + f);
  }
  Process& w = *c.StartWorker("w1", {"--allow-path-root", inner});
  auto job = [&](const std::string& dir) {
    return c.Submit({"--model", Model(), "--data", "idx:" + dir, "--data-as-path", "--max-samples", "64", "--x",
                     "-1:1:3"});
  };
  const std::string outside = job(c.dir() + "/fm");  // the server allows it, the worker does not
  ASSERT_EQ(c.WaitFinal(outside), "FAILED");
  const std::string error = c.JobField(outside, "error");
  EXPECT_NE(error.find("is outside the allowed roots (--allow-path-root)"), std::string::npos) << error;
  const std::string inside = job(inner + "/fm");
  EXPECT_EQ(c.WaitFinal(inside), "SUCCEEDED") << c.JobField(inside, "error") << w.Log();
}

}  // namespace
}  // namespace landscape
