// The service and the servers it talks to, as Aspire runs them (containers need Docker or Podman). The service is
// wired through the .NET aliases ConnectionStrings:EventStore and ConnectionStrings:RabbitMq; the pyfly: URLs of its
// appsettings.json are cleared, since they win over the aliases. OTEL_EXPORTER_OTLP_ENDPOINT, which Aspire sets,
// switches on the service's own OTLP export, so its traces, metrics and logs reach the dashboard.
var builder = DistributedApplication.CreateBuilder(args);

var api = builder.AddProject<Projects.Api>("api")
    .WithHttpHealthCheck("/health/ready")
    .WithEnvironment("PYFLY__DATA__RELATIONAL__URL", "");

#if (UsePostgreSql)
var eventStore = builder.AddPostgres("postgres").WithDataVolume().AddDatabase("EventStore", databaseName: "orders");
#else
// SQLite needs no server: the connection string comes from this app host's appsettings.json (ConnectionStrings:EventStore).
var eventStore = builder.AddConnectionString("EventStore");
#endif
api.WithReference(eventStore);
#if (UsePostgreSql)
api.WaitFor(eventStore);
#endif

#if (UseRabbitMq)
var broker = builder.AddRabbitMQ("RabbitMq").WithManagementPlugin();
api.WithReference(broker).WaitFor(broker).WithEnvironment("PYFLY__EDA__RABBITMQ__URL", "");
#endif

builder.Build().Run();
