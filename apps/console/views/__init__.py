"""Console views of the apps domain (Dify's ``controllers/console/app/*``), one module per area."""
