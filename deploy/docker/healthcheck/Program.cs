// Exit 0 when the worker on this container answers GET /readyz with 2xx within two seconds, 1 otherwise. Readiness,
// not liveness: Docker only reports the status (it restarts nothing), and a worker that is up but cannot screen (a
// failed start check such as no ffmpeg, Kafka unreachable) should show as unhealthy in `docker ps`.
// Port: the first argument, else Telemetry__Port, else 9464 (the contract's default).
var port = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("Telemetry__Port") ?? "9464";
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
try
{
    using var response = await http.GetAsync($"http://127.0.0.1:{port}/readyz");
    Console.WriteLine($"readyz {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    return response.IsSuccessStatusCode ? 0 : 1;
}
catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
{
    Console.WriteLine($"readyz unreachable: {e.Message}");
    return 1;
}
