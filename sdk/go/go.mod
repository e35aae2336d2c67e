module hakgal/sdk/go

go 1.19
