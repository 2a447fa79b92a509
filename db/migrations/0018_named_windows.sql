CREATE TABLE "maintenance_windows" (
	"name" text PRIMARY KEY NOT NULL,
	"window" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "window_name" text;