using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Redis;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Moderation.Streams.Worker.Tests;

public class ModerationTelemetryTests
{
    private static readonly Type[] TelemetryClasses = [typeof(WorkerTelemetry), typeof(KafkaTelemetry), typeof(RedisTelemetry), typeof(InferenceTelemetry)];

    /// <summary>Every instrument of the product's meters, after each component's telemetry class has created its own.</summary>
    private static List<Instrument> Instruments()
    {
        foreach (var type in TelemetryClasses) RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        var instruments = new List<Instrument>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name.StartsWith("Moderation.Streams.", StringComparison.Ordinal)) lock (instruments) instruments.Add(instrument);
        };
        listener.Start();
        return instruments;
    }

    [Fact]
    public void Each_component_has_one_meter_and_AddModerationTelemetry_registers_every_one()
    {
        var meters = Instruments().GroupBy(i => i.Meter.Name).ToDictionary(g => g.Key, g => g.Select(i => i.Meter).Distinct().Count());
        Assert.Equal(ModerationTelemetry.Meters.Order(), meters.Keys.Order());
        Assert.All(meters, m => Assert.Equal(1, m.Value));
        Assert.Contains(WorkerTelemetry.ActivitySourceName, ModerationTelemetry.ActivitySources);
        Assert.Contains(InferenceTelemetry.ActivitySourceName, ModerationTelemetry.ActivitySources);
    }

    [Fact]
    public void Every_duration_is_a_histogram_in_seconds_with_buckets_for_seconds()
    {
        var instruments = Instruments();
        Assert.DoesNotContain(instruments, i => i.Unit is "ms" or "us" or "ns");
        var durations = instruments.OfType<Histogram<double>>().ToList();
        Assert.Equal(
            ["messaging.process.duration", "moderation.bank.change.delay", "moderation.decision.duration", "moderation.inference.duration", "moderation.inference.queue_wait", "moderation.video.decode.duration"],
            durations.Select(d => d.Name).Order());
        Assert.All(durations, d =>
        {
            Assert.Equal("s", d.Unit);
            // The SDK's default boundaries (0, 5, 10, 25 … 10000) suit milliseconds: every duration would fall in the first bucket or two.
            var buckets = d.Advice?.HistogramBucketBoundaries ?? throw new Xunit.Sdk.XunitException($"{d.Name} has no bucket boundaries");
            Assert.True(buckets[0] <= 0.05 && buckets[^1] >= 5, $"{d.Name}: {string.Join(", ", buckets)}");
        });
    }

    [Fact]
    public void The_decision_duration_is_exported_in_seconds_through_AddModerationTelemetry()
    {
        var exported = new List<Metric>();
        using var metrics = Sdk.CreateMeterProviderBuilder().AddModerationTelemetry().AddInMemoryExporter(exported).Build();
        new ScreeningStats().Decision("allow", cached: false, latencyMs: 29_000);
        metrics.ForceFlush();

        var duration = Assert.Single(exported, m => m.Name == WorkerTelemetry.DecisionDurationHistogram);
        Assert.Equal(MetricType.Histogram, duration.MetricType);
        Assert.Equal("s", duration.Unit);
        double sum = 0;
        long inBucketOfTheSample = 0;
        foreach (ref readonly var point in duration.GetMetricPoints())
        {
            sum += point.GetHistogramSum();
            double lower = double.NegativeInfinity;
            foreach (var bucket in point.GetHistogramBuckets())
            {
                if (lower < 29 && 29 <= bucket.ExplicitBound) inBucketOfTheSample += bucket.BucketCount;
                lower = bucket.ExplicitBound;
            }
        }
        // Other tests of this assembly may screen uploads meanwhile: they add milliseconds, not thousands.
        Assert.InRange(sum, 29, 1_000);
        Assert.True(inBucketOfTheSample >= 1);
    }
}
