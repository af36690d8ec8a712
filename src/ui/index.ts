export { createDashboard, dashboardHtml, DASHBOARD_CSP, APP_JS, type DashboardOptions } from './dashboard.js';
