using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

/// <summary>
/// <c>Inference:Device</c> and <c>Inference:Precision</c> at worker start, on this CPU-only build: <c>cuda</c> refuses
/// to start with a clear message; <c>auto</c> runs on the CPU and says so loudly (and runs fp32 when fp16 was asked
/// for); the model chosen by configuration, at the precision that runs, is the version every decision carries.
/// </summary>
public sealed class InferenceDeviceTests
{
    [Fact]
    public async Task Cuda_requested_where_it_cannot_run_stops_the_worker_at_start_with_the_reason_and_the_way_out()
    {
        var logs = new Logs();

        var error = await StartIsRefusedAsync<ExecutionProviderUnavailableException>(new() { ["Inference:Device"] = "cuda" }, logs);

        Assert.Contains("Inference:Device is 'cuda'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'auto'", error.Message, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.StartsWith("Critical", StringComparison.Ordinal) && l.Contains("cuda", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Auto_on_the_cpu_only_build_runs_on_the_cpu_without_a_word_about_cuda_and_decisions_carry_the_configured_models_version()
    {
        await using var stack = new EmbeddedStack();
        var logs = new Logs();
        var (host, service) = await StartReadyAsync(stack, logs, new() { ["Inference:Device"] = "auto", ["Screening:Model"] = "nsfw-mobilenet-v2-mid" });
        using var _ = host;

        Assert.Equal("cpu", service.Inference!.Device);
        Assert.NotNull(service.Inference.DeviceFallbackReason);
        Assert.Equal(1, service.Inference.Options.ConcurrentRuns); // the CPU's default, not CUDA's two
        // This suite's build carries the CPU-only ONNX Runtime: the CPU is what it was built for, not a fallback to warn about
        // (a GPU build without a GPU still warns; the reason stays in /readyz's device note).
        Assert.True(InferenceSetup.CpuOnlyBuild);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("CUDA", StringComparison.Ordinal));

        var records = await ScreenAndStopAsync(stack, host, "u", 300, 6);
        Assert.All(records, r => Assert.Equal("nsfw-mobilenet-v2-mid@1", r.Decision.ModelVersion));
    }

    [Fact]
    public async Task Fp16_on_the_cpu_runs_the_float16_variant_and_decisions_carry_its_own_version()
    {
        await using var stack = new EmbeddedStack();
        var logs = new Logs();
        var (host, service) = await StartReadyAsync(stack, logs, new() { ["Inference:Device"] = "cpu", ["Inference:Precision"] = "fp16" });
        using var _ = host;

        Assert.Equal(InferencePrecision.Fp16, service.Inference!.Precision);
        Assert.Equal("nsfw-mobilenet-v2@1+fp16", service.Health().Model);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("Inference:Precision=fp16 on the CPU", StringComparison.Ordinal));

        var records = await ScreenAndStopAsync(stack, host, "h", 400, 4);
        Assert.All(records, r => Assert.Equal("nsfw-mobilenet-v2@1+fp16", r.Decision.ModelVersion));
    }

    [Fact]
    public void Fp16_with_auto_on_the_cpu_only_build_loads_the_fp32_model_and_the_warning_says_why()
    {
        var logs = new Logs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));

        using var classifier = InferenceSetup.LoadClassifier(new ScreeningOptions(),
            new InferenceOptions { Device = InferenceDevice.Auto, Precision = InferencePrecision.Fp16 }, factory.CreateLogger("test"));

        Assert.Equal("nsfw-mobilenet-v2@1", classifier.Model.VersionedName);
        Assert.Equal(InferencePrecision.Fp32, classifier.Precision);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal)
            && l.Contains("Inference:Precision=fp16 is for CUDA and this build carries the CPU-only ONNX Runtime", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("CUDA is not usable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fp16_for_a_model_without_a_float16_variant_stops_the_worker_at_start_naming_the_models_with_one()
    {
        var error = await StartIsRefusedAsync<ArgumentException>(
            new() { ["Screening:Model"] = "nsfw-inception-v3", ["Inference:Precision"] = "fp16" }, new Logs());

        Assert.Contains("'nsfw-inception-v3' has no fp16 variant", error.Message, StringComparison.Ordinal);
        Assert.Contains("nsfw-mobilenet-v2", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Starts a worker with <paramref name="settings"/> that must refuse to start: readiness fails with
    /// <typeparamref name="TException"/>, the exit code is 1 and the host stops.</summary>
    private static async Task<TException> StartIsRefusedAsync<TException>(Dictionary<string, string?> settings, Logs logs) where TException : Exception
    {
        int exitCode = Environment.ExitCode;
        try
        {
            settings["Kafka:BootstrapServers"] = "127.0.0.1:1";
            using var host = WorkerHost.Build(settings, logging => logging.AddProvider(logs));
            await host.StartAsync(TestContext.Current.CancellationToken);

            var service = host.Services.GetRequiredService<ScreeningService>();
            var error = await Assert.ThrowsAsync<TException>(
                () => service.Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            Assert.Equal(1, Environment.ExitCode);
            // The service asks the host to stop as it fails; under load the request may land a moment after readiness fails.
            Assert.True(host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(30)),
                "the host was not asked to stop");
            await host.StopAsync(TestContext.Current.CancellationToken);
            return error;
        }
        finally
        {
            Environment.ExitCode = exitCode;
        }
    }

    /// <summary>A worker on <paramref name="stack"/> with <paramref name="settings"/>, started and ready.</summary>
    private static async Task<(IHost Host, ScreeningService Service)> StartReadyAsync(EmbeddedStack stack, Logs logs, Dictionary<string, string?> settings)
    {
        settings["Kafka:BootstrapServers"] = stack.Broker.BootstrapServers;
        settings["Kafka:GroupId"] = stack.GroupId;
        settings["Kafka:SessionTimeoutMs"] = "6000";
        settings["Media:Root"] = stack.MediaRoot.FullName;
        settings["Inference:MaxBatchSize"] = "4";
        var host = WorkerHost.Build(settings, logging => logging.AddProvider(logs));
        await host.StartAsync(TestContext.Current.CancellationToken);
        var service = host.Services.GetRequiredService<ScreeningService>();
        await service.Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        return (host, service);
    }

    /// <summary>Screens <paramref name="count"/> small pictures, stops the worker, and returns one outcome per upload.</summary>
    private static async Task<List<EmbeddedStack.Record>> ScreenAndStopAsync(EmbeddedStack stack, IHost host, string prefix, int seed, int count)
    {
        var uploads = Enumerable.Range(0, count)
            .Select(i => ($"{prefix}-{i}", EmbeddedStack.Upload($"{prefix}-{i}", stack.WriteImage($"{prefix}-{i}.png", SampleImages.Png(seed + i, 64, 48)))))
            .ToList();
        stack.Produce(uploads);
        var records = stack.ReadOutcomes(uploads.Count, deadline: TimeSpan.FromSeconds(60));
        await host.StopAsync(TestContext.Current.CancellationToken);
        Assert.Equal(uploads.Count, records.Count);
        return records;
    }

    private sealed class Logs : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capturing(this);

        public void Dispose()
        {
        }

        private sealed class Capturing(Logs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue($"{logLevel} {formatter(state, exception)}");
        }
    }
}
