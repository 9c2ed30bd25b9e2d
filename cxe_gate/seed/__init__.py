"""The regression seeder: journey maps → pytest-playwright suites (codegen) and the small runtime
library those suites call (runtime: the journey and its checks, a browser or an API driver)."""
