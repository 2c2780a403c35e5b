// The power cut of a real process's files (cairnd --test-sync-journal):
// only synced bytes and synced folder entries survive it.

#include <catch2/catch.hpp>

#include <fstream>

#include "storage/power_loss_journal.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void append(File& file, const std::string& text) {
  REQUIRE(file.append(std::as_bytes(std::span(text.data(), text.size()))).ok());
}

std::unique_ptr<PowerLossJournalEnv> journal_env(const std::string& journal) {
  auto env = PowerLossJournalEnv::open(Env::posix(), journal);
  REQUIRE(env.ok());
  return std::move(*env);
}

}  // namespace

TEST_CASE("APowerCutKeepsOnlyWhatSyncsCovered", "[unit][power-loss]") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string journal = dir.path() + "/journal";
  REQUIRE(Env::posix().create_dirs(data).ok());
  {
    auto env = journal_env(journal);
    auto named = env->open_file(data + "/named", true);
    REQUIRE(named.ok());
    append(**named, "synced");
    REQUIRE((*named)->sync().ok());
    REQUIRE(env->sync_dir(data).ok());
    append(**named, "+lost");  // appended after the last sync

    auto never_synced = env->open_file(data + "/never-synced", true);
    REQUIRE(never_synced.ok());
    append(**never_synced, "only in the page cache");
    REQUIRE(env->sync_dir(data).ok());

    auto unnamed = env->open_file(data + "/unnamed", true);  // no folder sync after it
    REQUIRE(unnamed.ok());
    append(**unnamed, "synced but unnamed");
    REQUIRE((*unnamed)->sync().ok());
  }
  // A file the Env never created is left as it is (RocksDB's, for one).
  std::ofstream(data + "/foreign") << "not ours";

  auto cut = cut_power(journal);
  REQUIRE(cut.ok());
  CHECK(read_all(data + "/named") == "synced");
  CHECK_FALSE(std::filesystem::exists(data + "/unnamed"));
  CHECK(read_all(data + "/never-synced").empty());
  CHECK(read_all(data + "/foreign") == "not ours");
  CHECK(cut->files_truncated == 2);
  CHECK(cut->bytes_dropped == std::string("+lost").size() + std::string("only in the page cache").size());
  CHECK(cut->files_removed == 1);
}

TEST_CASE("ARestartedProcessContinuesTheJournal", "[unit][power-loss]") {
  TempDir dir;
  const std::string journal = dir.path() + "/journal";
  const std::string path = dir.path() + "/state";
  {
    auto env = journal_env(journal);
    auto file = env->open_file(path, true);
    REQUIRE(file.ok());
    append(**file, "first life");
    REQUIRE((*file)->sync().ok());
    REQUIRE(env->sync_dir(dir.path()).ok());
  }
  {
    auto env = journal_env(journal);  // the second life opens what the first made
    auto file = env->open_file(path, true);
    REQUIRE(file.ok());
    append(**file, ", second life unsynced");
  }
  REQUIRE(cut_power(journal).ok());
  CHECK(read_all(path) == "first life");
}

TEST_CASE("ARenamedFileKeepsItsSyncedBytesAndARemovedOneIsForgotten", "[unit][power-loss]") {
  TempDir dir;
  const std::string journal = dir.path() + "/journal";
  {
    auto env = journal_env(journal);
    auto tmp = env->open_file(dir.path() + "/bounds.tmp", true);
    REQUIRE(tmp.ok());
    append(**tmp, "new bounds");
    REQUIRE((*tmp)->sync().ok());
    append(**tmp, " and a tail never synced");
    REQUIRE(env->rename_file(dir.path() + "/bounds.tmp", dir.path() + "/bounds").ok());

    auto gone = env->open_file(dir.path() + "/gone", true);
    REQUIRE(gone.ok());
    REQUIRE(env->remove_file(dir.path() + "/gone").ok());
  }
  std::ofstream(dir.path() + "/gone") << "made again by something else";
  REQUIRE(cut_power(journal).ok());
  CHECK(read_all(dir.path() + "/bounds") == "new bounds");
  CHECK(read_all(dir.path() + "/gone") == "made again by something else");
}

TEST_CASE("ALineTornByTheKillIsIgnored", "[unit][power-loss]") {
  TempDir dir;
  const std::string journal = dir.path() + "/journal";
  const std::string path = dir.path() + "/file";
  {
    auto env = journal_env(journal);
    auto file = env->open_file(path, true);
    REQUIRE(file.ok());
    append(**file, "0123456789");
    REQUIRE((*file)->sync().ok());
    REQUIRE(env->sync_dir(dir.path()).ok());
  }
  std::ofstream(journal, std::ios::app) << "sync\t5";  // cut off mid-line
  REQUIRE(cut_power(journal).ok());
  CHECK(read_all(path) == "0123456789");
}

TEST_CASE("APowerCutTurnsUnsyncedAppendsOverSyncedZerosBackToZeros", "[unit][power-loss]") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string journal = dir.path() + "/journal";
  REQUIRE(Env::posix().create_dirs(data).ok());
  {
    auto env = journal_env(journal);
    auto file = env->open_file(data + "/segment", true);
    REQUIRE(file.ok());
    REQUIRE(env->sync_dir(data).ok());
    append(**file, "synced");
    REQUIRE((*file)->zero_ahead(64).ok());
    REQUIRE((*file)->sync().ok());
    append(**file, "+lost");       // over the synced zeros
    REQUIRE((*file)->zero_ahead(128).ok());  // zeros no sync covered
  }
  auto cut = cut_power(journal);
  REQUIRE(cut.ok());
  CHECK(read_all(data + "/segment") == "synced" + std::string(64 - 6, '\0'));
  CHECK(cut->files_truncated == 1);
  CHECK(cut->bytes_dropped == std::string("+lost").size());
}
