using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// A live terminal view of a running worker, read from its <c>/metrics</c> and <c>/readyz</c>: status, rates,
/// decision mix, DLQ by code, lag, in-flight, paused partitions, latency quantiles, cache hit ratio.
/// </summary>
internal static class TopCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "Worker telemetry address", DefaultValueFactory = _ => "http://127.0.0.1:9464" };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes", DefaultValueFactory = _ => 2 };
        var once = new Option<bool>("--once") { Description = "Print one snapshot (two scrapes, for the rates) and exit" };
        var command = new Command("top", "Live view of a running worker's metrics, for people without Grafana at hand.") { url, interval, once };
        command.SetAction(async (parse, ct) =>
        {
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var baseUri))
            {
                Console.Error.WriteLine("moderation top: --url must be an absolute http URL");
                return ExitCodes.Usage;
            }
            var every = TimeSpan.FromSeconds(Math.Max(0.2, parse.GetValue(interval)));
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(5) };
            Snapshot? previous;
            try
            {
                previous = await Snapshot.TakeAsync(http, ct);
            }
            catch (HttpRequestException e)
            {
                Console.Error.WriteLine($"moderation top: cannot read {baseUri}metrics: {e.Message}");
                return ExitCodes.Failure;
            }
            if (parse.GetValue(once) || !AnsiConsole.Profile.Capabilities.Interactive)
            {
                await Task.Delay(every, ct);
                var current = await Snapshot.TakeAsync(http, ct);
                AnsiConsole.Write(Render(baseUri, previous, current));
                return ExitCodes.Ok;
            }
            await AnsiConsole.Live(new Spectre.Console.Text("reading…")).StartAsync(async live =>
            {
                while (!ct.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(every, ct);
                        var current = await Snapshot.TakeAsync(http, ct);
                        live.UpdateTarget(Render(baseUri, previous, current));
                        previous = current;
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                    catch (HttpRequestException e)
                    {
                        live.UpdateTarget(new Markup($"[red]cannot read {Markup.Escape(baseUri.ToString())}: {Markup.Escape(e.Message)}[/]"));
                    }
                }
            });
            return ExitCodes.Ok;
        });
        return command;
    }

    internal sealed record Snapshot(long Timestamp, List<PrometheusSample> Samples, JsonElement? Health)
    {
        public static async Task<Snapshot> TakeAsync(HttpClient http, CancellationToken ct)
        {
            var metrics = await http.GetStringAsync("/metrics", ct);
            JsonElement? health = null;
            try
            {
                using var response = await http.GetAsync("/readyz", ct);
                health = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.Clone();
            }
            catch (Exception e) when (e is HttpRequestException or JsonException)
            {
            }
            return new Snapshot(Stopwatch.GetTimestamp(), PrometheusText.Parse(metrics), health);
        }

        public double Sum(string name, Func<PrometheusSample, bool>? where = null) =>
            Samples.Where(s => s.Name == name && (where?.Invoke(s) ?? true)).Sum(s => s.Value);
    }

    internal static Rows Render(Uri source, Snapshot before, Snapshot after)
    {
        double seconds = Math.Max(0.001, Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds);
        double Rate(string name, Func<PrometheusSample, bool>? where = null) => Math.Max(0, after.Sum(name, where) - before.Sum(name, where)) / seconds;

        var status = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(source.ToString())}[/]").AddColumn("").AddColumn("");
        if (after.Health is { } h)
        {
            string Field(string n) => h.TryGetProperty(n, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : "—";
            bool ready = h.TryGetProperty("ready", out var r) && r.ValueKind == JsonValueKind.True;
            status.AddRow("status", ready ? "[green]ready[/]" : $"[red]{Markup.Escape(Field("status"))}[/]");
            status.AddRow("model", Markup.Escape($"{Field("model")} on {Field("device")}"));
            if (Field("device_note") != "—") status.AddRow("device note", $"[yellow]{Markup.Escape(Field("device_note"))}[/]");
            status.AddRow("kafka", Markup.Escape(Field("kafka")));
            status.AddRow("redis", Markup.Escape(Field("redis")));
            status.AddRow("partitions", Markup.Escape(Field("assigned_partitions")));
        }

        var flow = new Table().Border(TableBorder.Rounded).Title("[bold]flow[/]").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        flow.AddRow("uploads/s", $"{Rate("messaging_client_consumed_messages_total"):0.0}");
        foreach (var action in new[] { "takedown", "review", "allow" })
            flow.AddRow($"{action}/s", $"{Rate("moderation_decisions_total", s => s.Label("action") == action):0.0}");
        flow.AddRow("dlq/s", $"{Rate("moderation_dlq_total"):0.0}");
        flow.AddRow("in flight", $"{after.Sum("moderation_uploads_inflight"):0}");
        flow.AddRow("paused partitions", $"{after.Sum("moderation_partitions_paused"):0}");
        flow.AddRow("lag (messages)", $"{after.Sum("messaging_kafka_consumer_lag"):0}");
        var duration = after.Samples.Where(s => s.Name == "messaging_process_duration_seconds_bucket");
        if (PrometheusText.Quantile(duration, 0.5) is { } p50) flow.AddRow("process p50 ms", $"{p50 * 1000:0}");
        if (PrometheusText.Quantile(duration, 0.99) is { } p99) flow.AddRow("process p99 ms", $"{p99 * 1000:0}");
        double hits = after.Sum("moderation_cache_lookups_total", s => s.Label("result") == "hit");
        double lookups = after.Sum("moderation_cache_lookups_total");
        flow.AddRow("cache hit ratio", lookups > 0 ? $"{hits / lookups:P0}" : "—");

        var dlq = new Table().Border(TableBorder.Rounded).Title("[bold]dlq by code[/]").AddColumn("code").AddColumn(new TableColumn("total").RightAligned());
        foreach (var group in after.Samples.Where(s => s.Name == "moderation_dlq_total").GroupBy(s => s.Label("code") ?? "?").OrderBy(g => g.Key))
            dlq.AddRow(Markup.Escape(group.Key), $"{group.Sum(s => s.Value):0}");

        var lag = new Table().Border(TableBorder.Rounded).Title("[bold]lag by partition[/]").AddColumn("partition").AddColumn(new TableColumn("lag").RightAligned());
        foreach (var s in after.Samples.Where(s => s.Name == "messaging_kafka_consumer_lag").OrderByDescending(s => s.Value).Take(8))
            lag.AddRow(Markup.Escape($"{s.Label("messaging_destination_name")}[{s.Label("messaging_destination_partition_id")}]"), $"{s.Value:0}");

        return new Rows(status, new Columns(flow, dlq, lag));
    }
}
