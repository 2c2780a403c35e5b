// The `cairn` CLI as a user runs it, against a real broker.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cluster_fixture.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// Runs `cairn ARGS` with `input` on stdin; stdout and stderr together.
CommandResult cairn_cli(const SingleBroker& cluster, const std::string& args, const std::string& input = "") {
  std::string input_path = cluster.folder.path() + "/stdin";
  std::ofstream(input_path) << input;
  return run_command(fmt::format("{} {} --brokers {} < {} 2>&1", bin_path("cairn"), args,
                                 cluster.broker.address(), input_path));
}

}  // namespace

TEST_CASE("CliManagesTopicsProducesAndConsumes", "[integration][cli]") {
  SingleBroker cluster;
  auto created = cairn_cli(cluster, "topic create greetings --partitions 3 --config retention.ms=86400000");
  CHECK(created.exit_code == 0);
  CHECK_THAT(created.output, Catch::Contains("created topic greetings with 3 partition(s)"));
  CHECK(cairn_cli(cluster, "topic create greetings").exit_code == 1);
  auto again = cairn_cli(cluster, "topic create greetings --partitions 5 --if-not-exists");
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("topic greetings already exists; left as it is"));
  CHECK_THAT(cairn_cli(cluster, "topic list").output, Catch::Contains("greetings"));

  auto produced = cairn_cli(cluster, "produce greetings --key-separator :", "ada:one\nada:two\nbob:three\n");
  CHECK(produced.exit_code == 0);
  CHECK_THAT(produced.output, Catch::Contains("produced 3 record(s)"));

  auto consumed = cairn_cli(cluster, "consume greetings --from beginning --timeout-ms 1500 --print-key");
  CHECK(consumed.exit_code == 0);
  CHECK_THAT(consumed.output, Catch::Contains("ada\tone\nada\ttwo\n"));  // one partition, in order
  CHECK_THAT(consumed.output, Catch::Contains("bob\tthree\n"));

  auto limited = cairn_cli(cluster, "consume greetings --from beginning --max-messages 1");
  CHECK(limited.exit_code == 0);
  CHECK(std::count(limited.output.begin(), limited.output.end(), '\n') == 1);

  auto described = cairn_cli(cluster, "topic describe greetings");
  CHECK_THAT(described.output, Catch::Contains("  * retention.ms = 86400000\n"));  // set for the topic
  CHECK_THAT(described.output, Catch::Contains("    segment.bytes = 1073741824\n"));  // the broker's default
  CHECK_THAT(described.output, Catch::Contains("retention is applied every 300000 ms"));
  CHECK(cairn_cli(cluster, "topic alter greetings --config retention.ms=1000").exit_code == 0);
  CHECK_THAT(cairn_cli(cluster, "topic describe greetings").output, Catch::Contains("* retention.ms = 1000"));
  CHECK_THAT(cairn_cli(cluster, "topic describe __consumer_offsets").output,
             Catch::Contains("topic __consumer_offsets (internal: the brokers write it; clients may only read it)"));
  auto bad_config = cairn_cli(cluster, "topic alter greetings --config retention.mss=1");
  CHECK(bad_config.exit_code == 1);
  CHECK_THAT(bad_config.output, Catch::Contains("unknown config key 'retention.mss'"));

  auto rejected = cairn_cli(cluster, "produce missing", "x\n");
  CHECK(rejected.exit_code == 1);
  CHECK_THAT(rejected.output, Catch::Contains("does not exist"));

  auto internal = cairn_cli(cluster, "topic delete __consumer_offsets");
  CHECK(internal.exit_code == 1);
  CHECK_THAT(internal.output, Catch::Contains("internal_topic: '__consumer_offsets' is an internal topic"));
  CHECK(cairn_cli(cluster, "topic delete greetings").exit_code == 0);
  CHECK_THAT(cairn_cli(cluster, "topic list").output, !Catch::Contains("greetings"));
}

TEST_CASE("CliConsumesFromAnOffsetAndATime", "[integration][cli]") {
  SingleBroker cluster;
  cluster.create_topic("log", 1);
  auto producer = cluster.producer();
  for (int i = 0; i < 10; ++i) {
    producer->send({.topic = "log", .value = "line" + std::to_string(i), .partition = 0, .timestamp_ms = 1'000'000 + i * 1000});
  }
  producer->flush();
  auto from_offset = cairn_cli(cluster, "consume log --from 7 --timeout-ms 800 --print-offset");
  CHECK(from_offset.output == "0:7\tline7\n0:8\tline8\n0:9\tline9\n");
  auto from_time = cairn_cli(cluster, "consume log --from @1008000 --timeout-ms 800");
  CHECK(from_time.output == "line8\nline9\n");
  auto bad_from = cairn_cli(cluster, "consume log --from yesterday");
  CHECK(bad_from.exit_code == 1);
  CHECK_THAT(bad_from.output, Catch::Contains("--from 'yesterday' (not a time): give earliest, latest, an OFFSET"));
  // The same times as ISO 8601, in any zone; one without a zone is refused.
  CHECK(cairn_cli(cluster, "consume log --from 1970-01-01T00:16:48Z --timeout-ms 800").output == "line8\nline9\n");
  CHECK(cairn_cli(cluster, "consume log --from 1970-01-01T01:16:48+01:00 --timeout-ms 800").output ==
        "line8\nline9\n");
  auto no_zone = cairn_cli(cluster, "consume log --from 1970-01-01T00:16:48");
  CHECK(no_zone.exit_code == 1);
  CHECK_THAT(no_zone.output, Catch::Contains("no zone: end it with Z for UTC, or +hh:mm"));

  // A group takes the same words: --from only where it has no commit, and says so.
  auto first = cairn_cli(cluster, "consume log --group g --from earliest --max-messages 4");
  CHECK(first.output == "line0\nline1\nline2\nline3\n");
  auto resumed = cairn_cli(cluster, "consume log --group g --from earliest --max-messages 1");
  CHECK_THAT(resumed.output, Catch::Contains("warning: group g has committed offsets on 1 partition(s) of log"));
  CHECK_THAT(resumed.output, Catch::EndsWith("line4\n"));
  auto offset_in_group = cairn_cli(cluster, "consume log --group g --from 3");
  CHECK(offset_in_group.exit_code == 1);
  CHECK_THAT(offset_in_group.output, Catch::Contains("group reset-offsets g --topic log --to 3"));
  CHECK(cairn_cli(cluster, "group reset-offsets g --topic log --to @1007000 --execute").exit_code == 0);
  CHECK(cairn_cli(cluster, "consume log --group g --max-messages 1").output == "line7\n");
  CHECK(cairn_cli(cluster, "group reset-offsets g --topic log --to 1970-01-01T00:16:42Z --execute").exit_code == 0);
  CHECK(cairn_cli(cluster, "consume log --group g --max-messages 1").output == "line2\n");
  CHECK(cairn_cli(cluster, "group reset-offsets g --topic log --to-datetime 5 --execute").exit_code == 1);
}

TEST_CASE("CliSaysWhenNoBrokerAnswers", "[integration][cli]") {
  auto result = run_command(fmt::format("{} topic list --brokers 127.0.0.1:1 2>&1", bin_path("cairn")));
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.output, Catch::Contains("broker_unavailable"));
  CHECK_THAT(result.output, Catch::Contains("is a broker running"));
}

TEST_CASE("CliGroupConsumeFailsAtOnceWithoutABrokerOrTopic", "[integration][cli][groups]") {
  // `timeout` bounds the test if the command waits silently.
  auto no_broker = run_command(fmt::format("timeout 10 {} consume t --group g --brokers 127.0.0.1:1 2>&1",
                                           bin_path("cairn")));
  CHECK(no_broker.exit_code == 1);
  CHECK_THAT(no_broker.output, Catch::Contains("broker_unavailable"));

  SingleBroker cluster;
  auto no_topic = cairn_cli(cluster, "consume nope --group g --timeout-ms 1000");
  CHECK(no_topic.exit_code == 1);
  CHECK_THAT(no_topic.output, Catch::Contains("unknown_topic_or_partition: topic 'nope' does not exist"));
}

TEST_CASE("CliConsumeFromAnOffsetRetentionDeletedWarnsAndStartsAtTheLogStart", "[integration][cli]") {
  SingleBroker cluster({"--retention-check-interval-ms", "200"});
  cluster.create_topic("short", 1, {{"segment.ms", "300"}, {"retention.ms", "600"}});
  Offset earliest = produce_until_retention_moves_the_start(cluster, "short");
  auto consumed = cairn_cli(cluster, "consume short --from 5 --max-messages 1 --timeout-ms 3000 --print-offset");
  CHECK(consumed.exit_code == 0);
  CHECK_THAT(consumed.output, Catch::Contains(fmt::format(
      "warning: short/0: offset 5 is out of range; continuing at offset {}\n", earliest.value)));
  CHECK_THAT(consumed.output, Catch::Contains(fmt::format("0:{}\t", earliest.value)));

  // The library without a reset policy: a typed error naming the position.
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.auto_offset_reset = OffsetReset::none;
  auto consumer = std::move(Consumer::create(options)).value();
  REQUIRE(consumer->assign({{"short", 0}}).ok());
  REQUIRE(consumer->seek({"short", 0}, Offset(5)).ok());
  auto polled = consumer->poll(std::chrono::seconds(5));
  CHECK(polled.status().code() == ErrorCode::offset_out_of_range);
  CHECK_THAT(polled.status().message(), Catch::Contains("short/0 at offset 5"));
}

TEST_CASE("CliGroupsDescribeAndResetOffsets", "[integration][cli][groups]") {
  SingleBroker cluster;
  cluster.create_topic("orders", 2);
  auto producer = cluster.producer();
  for (int i = 0; i < 20; ++i) producer->send({.topic = "orders", .value = "o" + std::to_string(i), .partition = i % 2});
  producer->flush();

  auto first = cairn_cli(cluster, "consume orders --group billing --from beginning --timeout-ms 1500");
  CHECK(first.exit_code == 0);
  CHECK(std::count(first.output.begin(), first.output.end(), '\n') == 20);
  // Committed as it went: the group resumes after its last record.
  auto again = cairn_cli(cluster, "consume orders --group billing --from beginning --timeout-ms 1000");
  CHECK_THAT(again.output, Catch::StartsWith("warning: group billing has committed offsets on 2 partition(s)"));
  CHECK(std::count(again.output.begin(), again.output.end(), '\n') == 1);  // no record

  CHECK_THAT(cairn_cli(cluster, "group list").output, Catch::Contains("billing\tempty\t0 member(s)"));
  auto described = cairn_cli(cluster, "group describe billing");
  CHECK_THAT(described.output, Catch::Contains("group billing: empty"));
  CHECK_THAT(described.output, Catch::Matches("(.|\n)*orders +0 +10 +10 +0 +-(.|\n)*"));

  auto plan = cairn_cli(cluster, "group reset-offsets billing --topic orders --shift-by -3");
  CHECK(plan.exit_code == 0);
  CHECK_THAT(plan.output, Catch::Contains("dry run"));
  CHECK(cairn_cli(cluster, "consume orders --group billing --timeout-ms 800").output.empty());  // not applied
  CHECK(cairn_cli(cluster, "group reset-offsets billing --topic orders --shift-by -3 --execute").exit_code == 0);
  auto replay = cairn_cli(cluster, "consume orders --group billing --timeout-ms 1500");
  CHECK(std::count(replay.output.begin(), replay.output.end(), '\n') == 6);  // the last 3 of each partition

  CHECK(cairn_cli(cluster, "group reset-offsets billing --topic orders --to-earliest --execute").exit_code == 0);
  auto full = cairn_cli(cluster, "consume orders --group billing --max-messages 5 --timeout-ms 1500");
  CHECK(std::count(full.output.begin(), full.output.end(), '\n') == 5);
  // Only the five printed were committed: the rest come next time.
  auto rest = cairn_cli(cluster, "consume orders --group billing --timeout-ms 1500");
  CHECK(std::count(rest.output.begin(), rest.output.end(), '\n') == 15);

  auto to_time = cairn_cli(cluster, "group reset-offsets billing --topic orders --to-datetime 2001-01-01T00:00:00Z");
  CHECK(to_time.exit_code == 0);  // before every record: the plan is the log start
  CHECK_THAT(to_time.output, Catch::Matches("(.|\n)*orders +0 +10 +0\n(.|\n)*"));
  CHECK(cairn_cli(cluster, "group reset-offsets billing --topic orders --to-datetime yesterday").exit_code == 1);

  auto modes = cairn_cli(cluster, "group reset-offsets billing --topic orders --to-earliest --to-latest");
  CHECK(modes.exit_code == 1);
  CHECK_THAT(modes.output, Catch::Contains("exactly one of"));

  // Refused while the group has a member.
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.group_id = "billing";
  auto member = std::move(Consumer::create(options)).value();
  REQUIRE(member->subscribe({"orders"}).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (cluster.admin->describe_group("billing")->members.empty() && std::chrono::steady_clock::now() < deadline) {
    (void)member->poll(std::chrono::milliseconds(100));
  }
  auto refused = cairn_cli(cluster, "group reset-offsets billing --topic orders --to-earliest --execute");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.output, Catch::Contains("active member"));
  CHECK(cairn_cli(cluster, "group delete billing").exit_code == 1);
  member->close();
  CHECK(cairn_cli(cluster, "group delete billing").exit_code == 0);
  CHECK_THAT(cairn_cli(cluster, "group list").output, !Catch::Contains("billing"));
}

TEST_CASE("CliTakesItsOptionsBeforeOrAfterTheCommandAndChecksBrokerAddresses", "[integration][cli]") {
  SingleBroker cluster;
  std::string cairn = bin_path("cairn");
  std::string address = cluster.broker.address();
  auto run = [&](const std::string& args) { return run_command(fmt::format("{} 2>&1", args)); };

  CHECK(run(fmt::format("{} --brokers {} topic create early --partitions 1", cairn, address)).exit_code == 0);
  CHECK(run(fmt::format("{} -b {} topic create late --partitions 1", cairn, address)).exit_code == 0);
  CHECK_THAT(run(fmt::format("{} topic list -b {}", cairn, address)).output, Catch::Contains("early\nlate\n"));
  CHECK_THAT(run(fmt::format("CAIRN_BROKERS={} {} topic list", address, cairn)).output, Catch::Contains("early"));
  // The command's own flag beats the one before it, which beats the environment.
  CHECK(run(fmt::format("CAIRN_BROKERS=127.0.0.1:1 {} -b 127.0.0.1:1 topic list -b {}", cairn, address)).exit_code == 0);
  CHECK(run(fmt::format("CAIRN_BROKERS=127.0.0.1:1 {} -b {} topic list", cairn, address)).exit_code == 0);

  // A bad address is refused before anything is sent, and named.
  for (const auto& [list, why] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1", "'127.0.0.1' has no port"},
           {"127.0.0.1:0", "port 0"},
           {"127.0.0.1:99999", "not a number in 0..65535"},
           {"''", "no broker address given"},
           {"a:1,,b:2", "empty address between commas"}}) {
    auto refused = run(fmt::format("{} --brokers {} topic list", cairn, list));
    INFO(list << ": " << refused.output);
    CHECK(refused.exit_code != 0);
    CHECK_THAT(refused.output, Catch::Contains(why));
  }
  auto from_env = run(fmt::format("CAIRN_BROKERS=localhost {} topic list", cairn));
  CHECK(from_env.exit_code != 0);
  CHECK_THAT(from_env.output, Catch::Contains("$CAIRN_BROKERS: broker address 'localhost' has no port"));
  // ...but only where brokers are needed: help, version and offline commands still work.
  CHECK(run(fmt::format("CAIRN_BROKERS=localhost {} --help", cairn)).exit_code == 0);
  CHECK(run(fmt::format("CAIRN_BROKERS=localhost {} --version", cairn)).exit_code == 0);
  CHECK(run(fmt::format("CAIRN_BROKERS=localhost {} completion bash", cairn)).exit_code == 0);
  CHECK(run(fmt::format("CAIRN_BROKERS=localhost {} topic list -b {}", cairn, address)).exit_code == 0);

  CHECK_THAT(run(fmt::format("{} --version", cairn)).output, Catch::Matches("cairn [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  CHECK_THAT(run(fmt::format("{} --version", bin_path("cairnd"))).output,
             Catch::Matches("cairnd [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  auto unknown = run(fmt::format("{} ls", cairn));
  CHECK(unknown.exit_code != 0);
  CHECK_THAT(unknown.output, Catch::Contains("unknown command 'ls'; the commands of `cairn` are: topic, cluster"));
  auto unknown_sub = run(fmt::format("{} topic ls", cairn));
  CHECK_THAT(unknown_sub.output,
             Catch::Contains("unknown command 'ls'; the commands of `cairn topic` are: create, list, describe"));
}

TEST_CASE("CliEveryCommandsHelpHasAnExample", "[integration][cli]") {
  for (const char* command : {"topic create", "topic list", "topic describe", "topic alter", "topic delete",
                              "produce", "consume", "group list", "group describe", "group delete",
                              "group reset-offsets", "cluster describe", "log dump", "log verify",
                              "bench produce", "bench consume", "bench e2e"}) {
    auto help = run_command(fmt::format("{} {} --help 2>&1", bin_path("cairn"), command));
    INFO(command << ":\n" << help.output);
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.output, Catch::Contains("Example: "));
    CHECK_THAT(help.output.substr(help.output.find("Example: ")), Catch::Contains(fmt::format("cairn {}", command)));
  }
  // It documents only the options it has.
  CHECK_THAT(run_command(fmt::format("{} bench consume --help", bin_path("cairn"))).output,
             !Catch::Contains("--partitions"));
}

TEST_CASE("BenchE2eMeasuresOnlyTheRecordsAfterItsWarmUp", "[integration][cli]") {
  SingleBroker cluster;
  // 1,000 records/s: half a second of warm-up is 500 records, then 300 measured.
  auto bench = cairn_cli(cluster, "bench e2e --topic lat --records 300 --record-size 100 --rate-mb 0.1 "
                                  "--warmup-seconds 0.5 --acks all --json");
  INFO(bench.output);
  REQUIRE(bench.exit_code == 0);
  CHECK_THAT(bench.output, Catch::Contains(R"({"test":"e2e","records":300,"bytes":30000,)"));
  CHECK_THAT(bench.output, Catch::Contains(R"({"test":"e2e-acknowledged","records":300,)"));
  CHECK_THAT(bench.output, Catch::Contains(R"("errors":0,"latency_ms":)"));
  // The warm-up's records were sent (and read) too.
  CHECK(cluster.admin->list_offset("lat", 0, OffsetSpec::latest()).value() == Offset(800));
}

TEST_CASE("CliProducesHeadersAndFilesAndConsumesAsJson", "[integration][cli]") {
  SingleBroker cluster;
  cluster.create_topic("events", 1);
  auto produced = cairn_cli(cluster, "produce events --key-separator : --header source=cli --header trace",
                            "k1:one\nk2:\"two\"\t2\n");
  CHECK(produced.exit_code == 0);
  std::string file = cluster.folder.path() + "/lines";
  std::ofstream(file) << "from-file\n";
  CHECK(cairn_cli(cluster, fmt::format("produce events --file {}", file)).exit_code == 0);

  // A line without the separator is an error unless allowed, with its number.
  auto missing = cairn_cli(cluster, "produce events --key-separator :", "k3:three\nno key here\n");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Catch::Contains("line 2 has no key separator ':'"));
  CHECK(cairn_cli(cluster, "produce events --key-separator : --allow-missing-key", "no key here\n").exit_code == 0);

  auto json = cairn_cli(cluster, "consume events --from beginning --max-messages 5 --format json");
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.output, Catch::StartsWith(
      R"({"topic":"events","partition":0,"offset":0,"timestamp_ms":)"));
  CHECK_THAT(json.output, Catch::Contains(
      R"("key":"k1","value":"one","headers":[{"key":"source","value":"cli"},{"key":"trace","value":null}]})"
      "\n"));
  CHECK_THAT(json.output, Catch::Contains(R"("key":"k2","value":"\"two\"\t2","headers")"));
  CHECK_THAT(json.output, Catch::Contains(R"("key":null,"value":"from-file","headers":[]})"));
  CHECK_THAT(json.output, Catch::Contains(R"("offset":4,"timestamp_ms":)"));
  CHECK_THAT(json.output, Catch::Contains(R"("key":null,"value":"no key here","headers":[]})"));

  auto text = cairn_cli(cluster, "consume events --from beginning --max-messages 3 --print-headers --print-key");
  CHECK_THAT(text.output, Catch::StartsWith("k1\tsource=cli,trace=null\tone\n"));
  CHECK_THAT(text.output, Catch::Contains("null\t-\tfrom-file\n"));
}

TEST_CASE("CliGroupConsumerStoppedByASignalCommitsAndLeavesAtOnce", "[integration][cli][groups]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 1);
  auto producer = cluster.producer();
  for (int i = 0; i < 5; ++i) producer->send({.topic = "jobs", .value = "j" + std::to_string(i), .partition = 0});
  producer->flush();
  for (const char* signal : {"INT", "TERM"}) {
    // `timeout` sends the signal after 3 s and passes the consumer's exit code on.
    auto stopped = run_command(fmt::format(
        "timeout --preserve-status -s {} 3 {} consume jobs --group workers --from beginning "
        "--session-timeout-ms 60000 --brokers {} 2>&1",
        signal, bin_path("cairn"), cluster.broker.address()));
    INFO(signal << ": " << stopped.output);
    CHECK(stopped.exit_code == 0);
    // It left: the group is empty now, not a minute later, so its offsets can be reset.
    auto described = cairn_cli(cluster, "group describe workers");
    CHECK_THAT(described.output, Catch::Contains("group workers: empty"));
    CHECK_THAT(described.output, Catch::Matches("(.|\n)*jobs +0 +5 +5 +0 +-(.|\n)*"));
    CHECK(cairn_cli(cluster, "group reset-offsets workers --topic jobs --to-earliest --execute").exit_code == 0);
  }
}

TEST_CASE("CliDescribesTopicsAndGroupsAsJson", "[integration][cli][groups]") {
  SingleBroker cluster;
  CHECK(cairn_cli(cluster, "topic create \"a\\\"b\" --partitions 1").exit_code == 1);  // names are checked
  cluster.create_topic("sales", 2);
  auto producer = cluster.producer();
  for (int i = 0; i < 4; ++i) producer->send({.topic = "sales", .value = "s", .partition = i % 2});
  producer->flush();
  CHECK(cairn_cli(cluster, "consume sales --group books --from earliest --max-messages 4").exit_code == 0);

  CHECK(cairn_cli(cluster, "topic list --format json").output == "[\"sales\"]\n");
  auto topic = cairn_cli(cluster, "topic describe sales --format json");
  CHECK_THAT(topic.output, Catch::StartsWith(
      R"({"name":"sales","internal":false,"partitions":[{"partition":0,"leader":0,"replicas":[0],"caught_up":[0],"moving_to":[],)"));
  CHECK_THAT(topic.output, Catch::Contains(R"("log_start_offset":0,"high_watermark":2,"log_end_offset":2,)"));
  CHECK_THAT(topic.output, Catch::Contains(R"("configs":{"cleanup.policy":"delete",)"));
  CHECK_THAT(topic.output, Catch::EndsWith(R"(},"overridden":[],"retention_check_interval_ms":300000}
)"));

  CHECK(cairn_cli(cluster, "group list --format json").output ==
        "[{\"group\":\"books\",\"state\":\"empty\",\"members\":0}]\n");
  auto group = cairn_cli(cluster, "group describe books --format json");
  CHECK_THAT(group.output, Catch::StartsWith(R"({"group":"books","state":"empty","epoch":)"));
  CHECK_THAT(group.output, Catch::Contains(
      R"("members":[],"partitions":[{"topic":"sales","partition":0,"committed":2,"log_end_offset":2,"lag":0,"owner":null},)"));
  CHECK(cairn_cli(cluster, "group list --format yaml").exit_code != 0);
}

TEST_CASE("CliCompletesCommandsAndOptionsInBash", "[integration][cli]") {
  std::string script = fmt::format("{}/completion.bash", std::filesystem::temp_directory_path().string());
  REQUIRE(run_command(fmt::format("{} completion bash > {}", bin_path("cairn"), script)).exit_code == 0);
  // What bash offers after the words typed so far (the last one being completed).
  auto complete = [&](const std::string& line) {
    return run_command(fmt::format(
        "bash -c 'source {}; COMP_WORDS=({}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _cairn; "
        "printf \"%s\\n\" \"${{COMPREPLY[@]}}\"'",
        script, line)).output;
  };
  CHECK(complete("cairn to \"\"").empty() == false);
  CHECK(complete("cairn to") == "topic\n");
  CHECK(complete("cairn topic cr") == "create\n");
  CHECK(complete("cairn topic create orders --rep") == "--replication-factor\n");
  CHECK(complete("cairn -b x:1 group reset-offsets g --to-e") == "--to-earliest\n");
  CHECK_THAT(complete("cairn consume t --for"), Catch::Contains("--format"));
  CHECK(complete("cairn completion \"\"").find("--brokers") != std::string::npos);
  std::filesystem::remove(script);
}

TEST_CASE("ProducersCreateATopicOnFirstUseWhereTheBrokerAllowsIt", "[integration][cli]") {
  SingleBroker cluster({"--auto-create-topics", "--default-partitions", "3"});
  auto produced = cairn_cli(cluster, "produce clicks", "a\nb\n");
  INFO(produced.output);
  CHECK(produced.exit_code == 0);
  CHECK_THAT(cairn_cli(cluster, "topic describe clicks").output, Catch::Contains("topic clicks: 3 partition(s)"));
  auto producer = cluster.producer();
  auto sent = producer->send({.topic = "views", .value = "v", .partition = 2}).get();
  INFO(sent.status().to_string());
  CHECK(sent.ok());
  // A topic created without --partitions gets the broker's default too.
  CHECK(cairn_cli(cluster, "topic create plain").exit_code == 0);
  CHECK_THAT(cairn_cli(cluster, "topic describe plain").output, Catch::Contains("3 partition(s)"));
  // Consumers and admin requests do not create topics.
  CHECK(cairn_cli(cluster, "consume ghosts --timeout-ms 200").exit_code == 1);
  CHECK_THAT(cairn_cli(cluster, "topic list").output, !Catch::Contains("ghosts"));

  SingleBroker strict;
  auto refused = cairn_cli(strict, "produce clicks", "a\n");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.output, Catch::Contains("topic 'clicks' does not exist"));
}
